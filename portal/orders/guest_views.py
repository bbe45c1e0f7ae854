"""Guest access: look an order up by number + e-mail, or get a sign-in link for it by e-mail."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("guest", __name__)
