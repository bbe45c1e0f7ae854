"""Account pages: register, verify, sign in and out, password reset, profile and preferences."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("accounts", __name__)
