"""The start page, the language switch and the health check."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import text
from werkzeug.wrappers import Response

from portal.config import SUPPORTED_LOCALES
from portal.extensions import csrf, db, limiter

bp = Blueprint("main", __name__)
log = logging.getLogger(__name__)


@bp.get("/")
def index() -> str:
    """Start page: look up an order as a guest, or sign in."""
    return render_template("main/index.html")


@bp.post("/language")
def set_language() -> Response:
    """Remember the chosen language for this browser and go back to the page it was chosen on."""
    locale = request.form.get("locale", "")
    if locale in SUPPORTED_LOCALES:
        session["locale"] = locale
    return redirect(_same_site_path(request.form.get("next")) or url_for("main.index"), code=303)


def _same_site_path(target: str | None) -> str | None:
    # Only a local absolute path: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


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
