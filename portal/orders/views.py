"""The shopper's order list and the order tracking page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("orders", __name__)
