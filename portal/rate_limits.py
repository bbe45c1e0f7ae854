"""Rate limits in one place: limits read from the settings, and the page or error shown when one is hit."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from flask import Blueprint, Flask, current_app, render_template, request
from flask_babel import ngettext
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from portal.extensions import limiter


def configured_limit(setting: str) -> Callable[[], str]:
    """A limit ("10 per 15 minutes") read from the settings at request time (defaults in portal/config.py)."""
    return lambda: str(current_app.config[setting])


def api_client_key() -> str:
    """The API caller a request counts against: its bearer token (hashed; never stored), else its address."""
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token:
        return "api-client:" + hashlib.sha256(token.encode()).hexdigest()[:32]
    return "api-anonymous:" + get_remote_address()


def limit_api_clients(blueprint: Blueprint) -> None:
    """Every call to the JSON API counts against its client's API_LIMIT_PER_CLIENT (one shared budget)."""
    limiter.shared_limit(configured_limit("API_LIMIT_PER_CLIENT"), scope="api", key_func=api_client_key)(
        blueprint
    )


def seconds_until_reset(error: RateLimitExceeded) -> int:
    """How long until every limit this request broke lets it through again."""
    breached = [limit for limit in limiter.current_limits if limit.breached]
    fallback = time.time() + error.limit.limit.get_expiry()
    reset_at = max((limit.reset_at for limit in breached), default=fallback)
    # The same arithmetic as Flask-Limiter's own Retry-After header, so the page and the header agree.
    return max(1, int(reset_at - time.time()))


def init_app(app: Flask) -> None:
    @app.errorhandler(RateLimitExceeded)
    def too_many_attempts(error: RateLimitExceeded) -> tuple[Response | str, int, dict[str, str]]:
        seconds = seconds_until_reset(error)
        message = ngettext(
            "Too many attempts. Please try again in %(num)d minute.",
            "Too many attempts. Please try again in %(num)d minutes.",
            math.ceil(seconds / 60),
        )
        headers = {"Retry-After": str(seconds)}
        if request.path.startswith("/api/"):
            from portal.errors_pages import api_error

            body, status = api_error(429, "rate_limited", str(message))
            return body, status, headers
        return render_template("errors/error.html", status=429, message=message), 429, headers
