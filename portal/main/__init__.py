"""The start page, the language switch and the health check."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any
from urllib.parse import quote, urlsplit

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user
from sqlalchemy import text
from werkzeug.wrappers import Response

from portal.accounts.service import set_locale
from portal.config import SUPPORTED_LOCALES
from portal.extensions import csrf, db, limiter

bp = Blueprint("main", __name__)
# When the accessibility statement was last checked against the portal; change it with the statement.
STATEMENT_REVIEWED_ON = date(2026, 11, 22)
log = logging.getLogger(__name__)


@bp.app_template_global()
def current_location() -> str:
    """This request's path and query, percent-encoded: where the language switch comes back to.

    Without `lang=`: that parameter would override the language just chosen.
    """
    location = quote(request.path, safe="/")
    query = "&".join(
        part
        for part in request.query_string.decode("latin-1").split("&")
        if part and part.split("=", 1)[0] != "lang"
    )
    return f"{location}?{query}" if query else location


@bp.get("/")
def index() -> str:
    """Start page: look up an order as a guest, or sign in."""
    return render_template("main/index.html")


@bp.get("/accessibility")
def accessibility() -> str:
    """The accessibility statement: what the portal aims for, how it is checked, what falls short."""
    return render_template("main/accessibility.html", reviewed_on=STATEMENT_REVIEWED_ON)


@bp.post("/language")
def set_language() -> Response:
    """Remember the chosen language for this browser and go back to the page it was chosen on.

    A signed-in user's stored language wins over the browser's choice (it also picks the language of their
    messages), so for them the switch changes the stored language too.
    """
    locale = request.form.get("locale", "")
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale
        if current_user.is_authenticated:
            set_locale(current_user._get_current_object(), locale)
            db.session.commit()
    return redirect(safe_next_path(request.form.get("next")) or url_for("main.index"), code=303)


def safe_next_path(target: str | None) -> str | None:
    # Only a local absolute path: never an open redirect to another host. Browsers drop tabs and newlines from
    # URLs and read "\\" as "/", so "/\t/evil.example" or "/\\evil.example" would leave the site.
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(char == "\\" or char.isspace() or not char.isprintable() for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.get("/healthz")
@limiter.exempt
@csrf.exempt
def healthz() -> tuple[Response, int]:
    """JSON: whether the database and Redis answer. 200 when both do, 503 otherwise."""
    checks: dict[str, Any] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any driver error means "not reachable"
        log.warning("health check: database unreachable: %s", exc)
        checks["database"] = "unreachable"
        db.session.rollback()
    try:
        from portal.queue import redis_connection

        redis_connection().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        log.warning("health check: redis unreachable: %s", exc)
        checks["redis"] = "unreachable"
    healthy = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503
