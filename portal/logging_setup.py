"""Structured logging: one JSON object per line in production, readable lines in development."""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if has_request_context():
            entry["method"] = request.method
            entry["path"] = request.path
            entry["request_id"] = g.get("request_id")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _assign_request_id() -> None:
    # A proxy's X-Request-ID ties our log lines to its own; otherwise make one up.
    offered = request.headers.get("X-Request-ID", "")
    g.request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    response.headers.setdefault("X-Request-ID", g.get("request_id", ""))
    return response


def init_app(app: Flask) -> None:
    app.before_request(_assign_request_id)
    app.after_request(_echo_request_id)
    handler = logging.StreamHandler(sys.stderr)
    if app.config["LOG_FORMAT"] == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("portal")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if app.config["PORTAL_ENV"] == "development" else logging.INFO)
    root.propagate = False
    app.logger.handlers[:] = [handler]
