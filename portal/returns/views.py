"""Return pages: request a return, follow it, download the label."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("returns", __name__)
