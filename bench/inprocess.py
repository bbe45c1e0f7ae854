"""Measurements made inside one Python process with the portal app: sessions (lookups and sign-ins), SQL
statements per page, page weight, the predictions refresh, the direct Core insert rate and the dispatcher."""

from __future__ import annotations

import contextvars
import gzip
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import delete, event, select, text, update

BASE_URL = "https://localhost"  # production cookies are Secure and __Host- prefixed
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Browser:
    """A test client that keeps its own cookies and runs each request in a fresh context (like a server)."""

    def __init__(self, app: Flask):
        self.client = app.test_client()

    def get(self, path: str) -> Any:
        return contextvars.Context().run(self.client.get, path, base_url=BASE_URL)

    def post(self, path: str, data: dict[str, str]) -> Any:
        # Flask-WTF checks the Referer of HTTPS form posts.
        headers = {"Referer": BASE_URL + path}
        return contextvars.Context().run(
            self.client.post, path, data=data, base_url=BASE_URL, headers=headers
        )

    def csrf(self, path: str) -> str:
        page = self.get(path).get_data(as_text=True)
        match = _CSRF.search(page)
        if not match:
            raise RuntimeError(f"no CSRF token on {path}")
        return match.group(1)

    def cookie_header(self) -> str:
        cookies = [f"{cookie.key}={cookie.value}" for cookie in self.client._cookies.values()]
        return "; ".join(cookies)


def guest_session(app: Flask, number: str, email: str) -> str:
    """Look an order up as a guest; returns the Cookie header of the session holding the grant."""
    browser = Browser(app)
    token = browser.csrf("/track")
    response = browser.post("/track", {"csrf_token": token, "order_number": number, "email": email})
    if response.status_code != 303:
        raise RuntimeError(f"guest lookup of {number} answered {response.status_code}")
    return browser.cookie_header()


def signed_in_session(app: Flask, email: str, password: str) -> str:
    browser = Browser(app)
    token = browser.csrf("/login")
    response = browser.post("/login", {"csrf_token": token, "email": email, "password": password})
    if response.status_code != 303:
        raise RuntimeError(f"sign-in of {email} answered {response.status_code}")
    return browser.cookie_header()


def lookup_form_session(app: Flask) -> tuple[str, str]:
    """A CSRF token and the cookie it belongs to, for the lookup POST scenario."""
    browser = Browser(app)
    token = browser.csrf("/track")
    return token, browser.cookie_header()


# --- SQL statements per page --------------------------------------------------------------------------------


@contextmanager
def statement_counter(app: Flask) -> Iterator[list[str]]:
    from portal.extensions import db

    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def client_with(app: Flask, cookie: str) -> Any:
    """A test client holding the cookies of a `Cookie:` header (secure cookies need the https base URL)."""
    client = app.test_client()
    for pair in filter(None, (part.strip() for part in cookie.split(";"))):
        name, _, value = pair.partition("=")
        client.set_cookie(name, value, domain="localhost", secure=True)
    return client


def fetch(app: Flask, cookie: str, path: str) -> Any:
    client = client_with(app, cookie)
    return contextvars.Context().run(client.get, path, base_url=BASE_URL)


def count_statements(app: Flask, cookie: str, path: str) -> tuple[int, int]:
    """(statements, status) for one GET with the given session cookie."""
    client = client_with(app, cookie)
    with statement_counter(app) as statements:
        response = contextvars.Context().run(client.get, path, base_url=BASE_URL)
    return len(statements), response.status_code


# --- page weight --------------------------------------------------------------------------------------------

_ASSET = re.compile(r'<(?:link[^>]+rel="stylesheet"[^>]+href|script[^>]+src)="([^"]+)"')


def page_weight(app: Flask, cookie: str, path: str) -> dict[str, Any]:
    """Gzip bytes (level 6, what a proxy sends) of a page plus every stylesheet and script it loads."""
    client = client_with(app, cookie)
    response = contextvars.Context().run(client.get, path, base_url=BASE_URL)
    html = response.get_data()
    parts = {"html": len(gzip.compress(html, 6))}
    for asset in _ASSET.findall(html.decode("utf-8", "replace")):
        if asset.startswith(("http://", "https://", "//")):
            parts[asset] = -1  # not ours; counted as missing
            continue
        asset_response = contextvars.Context().run(client.get, asset.split("?")[0], base_url=BASE_URL)
        parts[asset] = len(gzip.compress(asset_response.get_data(), 6))
        asset_response.close()
    return {"status": response.status_code, "bytes": sum(v for v in parts.values() if v > 0), "parts": parts}


# --- predictions --------------------------------------------------------------------------------------------


def time_refresh_predictions(app: Flask) -> dict[str, Any]:
    """The whole model refresh over the loaded events (rolled back: the data set stays as generated)."""
    from portal.extensions import db
    from portal.orders.predictions import refresh_predictions

    with app.app_context():
        started = time.perf_counter()
        summary = refresh_predictions()
        seconds = time.perf_counter() - started
        db.session.rollback()
        events = db.session.scalar(text("SELECT COUNT(*) FROM tracking_events"))
    return {"seconds": seconds, "summary": str(summary), "events": int(events or 0)}


# --- the direct Core insert (the ingestion reference) -------------------------------------------------------


def core_insert_rate(app: Flask, targets: list[list[str]], batches: int = 60) -> dict[str, Any]:
    """Events/s of a plain SQLAlchemy Core executemany of API-shaped rows, 100 per transaction."""
    from portal.extensions import db
    from portal.orders.models import Shipment, TrackingEvent

    nonce = uuid.uuid4().hex[:8]
    with app.app_context():
        ids = dict(
            db.session.execute(
                select(Shipment.tracking_number, Shipment.id).where(
                    Shipment.tracking_number.in_([t[0] for t in targets[:2000]])
                )
            ).all()
        )
        pool = [(t[0], datetime.fromisoformat(t[1])) for t in targets[:2000] if t[0] in ids]
        table = TrackingEvent.__table__
        inserted = 0
        started = time.perf_counter()
        for batch in range(batches):
            rows = []
            for parcel in range(20):
                tracking, at = pool[(batch * 20 + parcel) % len(pool)]
                for n in range(5):
                    rows.append(
                        {
                            "event_id": f"bench-core-{nonce}-{batch}-{parcel}-{n}",
                            "tracking_number": tracking,
                            "shipment_id": ids[tracking],
                            "status": "in_transit",
                            "occurred_at": at,
                            "received_at": datetime.now(UTC),
                            "description": "Hub scan",
                            "raw_status": "hub_scan",
                            "city": "Leipzig",
                            "region": None,
                            "country": "DE",
                            "lat": None,
                            "lon": None,
                        }
                    )
            db.session.execute(table.insert(), rows)
            db.session.commit()
            inserted += len(rows)
        seconds = time.perf_counter() - started
        db.session.execute(delete(TrackingEvent).where(TrackingEvent.event_id.like(f"bench-core-{nonce}-%")))
        db.session.commit()
    return {"events": inserted, "seconds": seconds, "events_per_second": inserted / seconds}


def remove_ingested(app: Flask) -> int:
    from portal.extensions import db
    from portal.orders.models import TrackingEvent

    with app.app_context():
        result = db.session.execute(delete(TrackingEvent).where(TrackingEvent.event_id.like("bench-ing-%")))
        db.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


# --- the dispatcher -----------------------------------------------------------------------------------------


def reset_due_messages(app: Flask) -> int:
    """Make the benchmark's own outbox rows due now again (they were sent by the previous run)."""
    from portal.extensions import db
    from portal.messaging.models import Message

    with app.app_context():
        now = datetime.now(UTC)
        result = db.session.execute(
            update(Message)
            .where(Message.scope == "bench")
            .values(
                status="scheduled",
                due_at=now - timedelta(minutes=1),
                event_at=now - timedelta(minutes=1),
                attempts=0,
                sent_at=None,
                claimed_at=None,
                skip_reason=None,
                provider_id=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)


def explain_due_selection(app: Flask) -> dict[str, Any]:
    """The plan of the dispatcher's due query (the same statement as portal.messaging.tasks)."""
    from portal.extensions import db
    from portal.messaging.models import Message

    with app.app_context():
        query = (
            select(Message.id, Message.attempts, Message.due_at)
            .where(Message.status == "scheduled", Message.due_at <= datetime.now(UTC))
            .order_by(Message.due_at, Message.id)
            .limit(int(app.config["MESSAGE_DISPATCH_BATCH"]))
        )
        dialect = db.engine.dialect.name
        compiled = query.compile(dialect=db.engine.dialect)
        # The statement as the driver gets it (bound values through their column types), behind EXPLAIN.
        processors = compiled._bind_processors
        values = {
            name: processors[name](value) if name in processors else value
            for name, value in compiled.construct_params().items()
        }
        prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN "
        parameters: Any = values
        if compiled.positiontup is not None:
            parameters = tuple(values[name] for name in compiled.positiontup)
        rows = db.session.connection().exec_driver_sql(prefix + str(compiled), parameters).all()
        plan = [" ".join(str(part) for part in row[-1:]) for row in rows]
        total = db.session.scalar(text("SELECT COUNT(*) FROM messages"))
        db.session.rollback()
    joined = "\n".join(plan)
    return {"plan": plan, "uses_index": "ix_messages_status_due" in joined, "outbox_rows": int(total or 0)}


def time_dispatch(app: Flask) -> dict[str, Any]:
    from portal.messaging.tasks import dispatch_due_messages
    from portal.queue import redis_connection

    with app.app_context():
        redis_connection().flushdb()
        started = time.perf_counter()
        queued = dispatch_due_messages()
        seconds = time.perf_counter() - started
    return {"queued": queued, "seconds": seconds, "per_second": queued / seconds if seconds else 0.0}


def timed(function: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started
