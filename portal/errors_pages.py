"""Error pages that fit the layout for HTML, and the error object for the JSON API."""

from __future__ import annotations

import logging

import redis
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from portal.errors import DomainError

log = logging.getLogger(__name__)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def api_error(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> tuple[Response, int]:
    body: dict[str, object] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify(error=body), status


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> tuple[Response | str, int]:
        if _is_api():
            return api_error(error.status, error.code, error.message, error.fields)
        return render_template("errors/error.html", status=error.status, message=error.message), error.status

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        message = _("This form has expired or was sent from elsewhere. Please go back, reload and try again.")
        return render_template("errors/error.html", status=400, message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[Response | str, int] | HTTPException:
        status = error.code or 500
        if _is_api():
            code = (error.name or "error").lower().replace(" ", "_")
            return api_error(status, code, error.description or error.name)
        if status < 400:
            return error
        response = render_template("errors/error.html", status=status, message=_page_message(status))
        return response, status

    @app.errorhandler(OperationalError)
    def database_unavailable(error: OperationalError) -> tuple[Response | str, int]:
        log.error("database unavailable: %s", error)
        from portal.extensions import db

        db.session.rollback()
        if _is_api():
            return api_error(503, "unavailable", "The service is briefly unavailable. Please retry.")
        return _unavailable_page(), 503

    @app.errorhandler(redis.RedisError)
    def redis_unavailable(error: redis.RedisError) -> tuple[Response | str, int]:
        log.error("redis unavailable: %s", error)
        if _is_api():
            return api_error(503, "unavailable", "The service is briefly unavailable. Please retry.")
        return render_template("errors/error.html", status=503, message=_page_message(503)), 503

    @app.errorhandler(500)
    def server_error(error: Exception) -> tuple[Response | str, int]:
        if _is_api():
            return api_error(500, "server_error", "Something went wrong on our side.")
        return render_template("errors/error.html", status=500, message=_page_message(500)), 500


def _unavailable_page() -> str:
    """The 503 page in the layout; if the layout itself needs the database (shop settings, the signed-in
    user), a bare page that needs nothing but this module."""
    from portal.extensions import db

    try:
        return render_template("errors/error.html", status=503, message=_page_message(503))
    except SQLAlchemyError:
        db.session.rollback()
        log.warning("the error page needs the database; answering with the bare page")
        message = escape(_page_message(503))
        return (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>503</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
            f"<body><main><h1>503</h1><p>{message}</p></main></body></html>"
        )


def _page_message(status: int) -> str:
    messages = {
        400: _("The request could not be understood."),
        403: _("You do not have access to this page."),
        404: _("We could not find that page."),
        405: _("That action is not possible here."),
        413: _("What you sent is too large."),
        429: _("Too many attempts. Please wait a little and try again."),
        503: _("The service is briefly unavailable. Please try again in a moment."),
    }
    return messages.get(status, _("Something went wrong on our side. Please try again later."))
