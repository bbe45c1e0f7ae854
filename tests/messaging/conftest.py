"""Helpers for the message tests: orders driven through the JSON API, the outbox rows, the send job in-process
(under the frozen clock) or in real worker processes, and the e-mails the SMTP sink received."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from portal.messaging import tasks
from portal.messaging.models import Message
from portal.orders.models import Order
from tests.conftest import ROOT, ApiClient, worker_env
from tests.factories import event_body, order_body

ITEMS = [
    {"sku": "TEE-BLK-M", "name": "T-shirt", "variant": "Black / M", "quantity": 2, "unit_price": "19.95"},
    {"sku": "CAP-01", "name": "Cap", "quantity": 1, "unit_price": "50.00"},
]


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def frozen(app: Flask) -> Iterator[datetime]:
    """The clock frozen at the real current minute: real worker processes (on the wall clock) then agree with
    the test about what is due and what is stale."""
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    with clock.freeze(start):
        yield start


def place_order(api: ApiClient, number: str = "1001", **overrides: Any) -> Order:
    defaults = {"placed_at": iso(clock.now()), "locale": "en", "items": ITEMS, "email": "ada@example.com"}
    body = order_body(**{**defaults, **overrides})
    response = api.put(f"/orders/{number}", json=body)
    assert response.status_code in (200, 201), response.get_json()
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None
    return order


def ship(api: ApiClient, number: str = "1001", tracking_number: str | None = None, **overrides: Any) -> str:
    tracking_number = tracking_number or f"T{number}"
    now = clock.now()
    body = {
        "carrier": "DHL",
        "shipped_at": iso(now),
        "items": [{"sku": "TEE-BLK-M", "quantity": 2}, {"sku": "CAP-01", "quantity": 1}],
        "promised_delivery": {
            "earliest": iso(now + timedelta(days=2)),
            "latest": iso(now + timedelta(days=4)),
        },
        **overrides,
    }
    response = api.put(f"/orders/{number}/shipments/{tracking_number}", json=body)
    assert response.status_code in (200, 201), response.get_json()
    return tracking_number


def track(api: ApiClient, tracking_number: str, status: str, at: datetime | None = None) -> None:
    at = at or clock.now()
    event_id = f"{tracking_number}-{status}-{int(at.timestamp())}"
    response = api.post("/tracking-events", json=event_body(event_id, status, iso(at), tracking_number))
    assert response.status_code == 200, response.get_json()


def order_event(api: ApiClient, number: str, event_type: str) -> None:
    response = api.post(
        f"/orders/{number}/events", json={"type": event_type, "occurred_at": iso(clock.now())}
    )
    assert response.status_code in (200, 201), response.get_json()


def deliver(api: ApiClient, number: str = "1001", **order: Any) -> str:
    """Place, ship and deliver an order, all now."""
    place_order(api, number, **order)
    tracking_number = ship(api, number)
    track(api, tracking_number, "delivered")
    return tracking_number


def rows(number: str = "1001", **filters: Any) -> list[Message]:
    db.session.expire_all()
    query = select(Message).join(Order).where(Order.number == number).order_by(Message.id)
    for name, value in filters.items():
        query = query.where(getattr(Message, name) == value)
    return list(db.session.scalars(query))


def row(number: str, step: str, channel: str = "email") -> Message:
    found = rows(number, step=step, channel=channel)
    assert len(found) == 1, f"{len(found)} {step}/{channel} messages for order {number}"
    return found[0]


def send(message: Message, until: datetime | None = None) -> str:
    """Run the send job in this process (under the frozen clock)."""
    return tasks.send_message(message.id, iso(until) if until else None)


def send_due(until: datetime | None = None) -> list[str]:
    """Run the send job for every message due by now (or `until`), in this process, oldest first."""
    limit = until or clock.now()
    db.session.expire_all()
    due = db.session.scalars(
        select(Message.id)
        .where(Message.status == "scheduled", Message.due_at <= limit)
        .order_by(Message.due_at, Message.id)
    ).all()
    db.session.commit()
    return [tasks.send_message(message_id, iso(until) if until else None) for message_id in due]


def make_shopper(
    email: str = "ada@example.com",
    *,
    phone: str | None = None,
    sms: bool = False,
    timezone: str | None = None,
    locale: str = "en",
) -> User:
    user = create_user(email, "correct-horse-battery-staple", "shopper", "Ada Lovelace", verified=True)
    user.phone = phone
    user.timezone = timezone
    user.locale = locale
    user.channel_preferences = {
        "updates": {"email": True, "sms": sms},
        "followups": {"email": True, "sms": False},
    }
    db.session.commit()
    return user


def subjects(messages: list[EmailMessage]) -> list[str]:
    return sorted(str(message["Subject"]) for message in messages)


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def hung_smtp_port() -> Iterator[int]:
    """A server that accepts connections and never answers (an SMTP server that hangs)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


@pytest.fixture
def start_worker(app_config: dict[str, Any]) -> Iterator[Any]:
    """Start real `worker.py` processes; any still running at the end are killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*extra: str, burst: bool = True, **settings: Any) -> subprocess.Popen[str]:
        env = {**worker_env(app_config), **{name: str(value) for name, value in settings.items()}}
        command = [sys.executable, str(ROOT / "worker.py"), "--queues", "messages", *extra]
        if burst:
            command.append("--burst")
        process = subprocess.Popen(
            command,
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            kill_hard(process)


def descendants(pid: int) -> list[int]:
    """The processes started by `pid` (an RQ work horse runs in a process group of its own)."""
    children: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            children += [int(entry), *descendants(int(entry))]
    return children


def kill_hard(process: subprocess.Popen[str]) -> None:
    """SIGKILL a worker and its work horse at once, as a crash of the machine would."""
    for pid in [*descendants(process.pid), process.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.communicate(timeout=30)


def wait_until(condition: Any, timeout: float = 20, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting")
