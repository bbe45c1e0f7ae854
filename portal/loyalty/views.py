"""The shopper's loyalty page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("loyalty", __name__)
