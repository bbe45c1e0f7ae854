"""Outgoing webhooks: received by a real HTTP server, signed, retried with backoff, every attempt recorded."""

from __future__ import annotations

import hmac
import json
import socket
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from portal import clock
from portal.audit import Actor, AuditEntry
from portal.errors import Conflict
from portal.extensions import db
from portal.queue import get_queue, redis_connection
from portal.webhooks.models import WebhookAttempt, WebhookDelivery
from portal.webhooks.service import queue_webhook, recent_deliveries, retry_delivery
from portal.webhooks.tasks import deliver_webhook, sign, sweep_due_webhooks
from tests.webhooks.conftest import SECRET, Receiver, verify

T0 = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
DATA = {"order_number": "1001", "tracking_number": "T1001", "instructions": {"access_code": "4711"}}


def queued(event_type: str = "delivery_instructions.updated") -> WebhookDelivery:
    delivery = queue_webhook(event_type, DATA)
    db.session.commit()
    return delivery


def fresh(delivery_id: int) -> WebhookDelivery:
    db.session.expire_all()
    delivery = db.session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return delivery


def attempts(delivery_id: int) -> list[WebhookAttempt]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id == delivery_id)
            .order_by(WebhookAttempt.number)
        )
    )


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch, receiver: Receiver) -> None:
    """The worker process reads its settings from the environment, like in production."""
    monkeypatch.setenv("SHOP_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("SHOP_WEBHOOK_SECRET", SECRET)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    body = b'{"id":"evt_1"}'
    header = sign(body, "secret", 1_700_000_000)
    digest = hmac.new(b"secret", b'1700000000.{"id":"evt_1"}', "sha256").hexdigest()
    assert header == f"t=1700000000,v1={digest}"


def test_a_real_worker_delivers_a_signed_webhook(
    app: Flask, receiver: Receiver, worker_env: None, run_worker: Any
) -> None:
    delivery = queued()
    result = run_worker("webhooks")
    assert result.returncode == 0, result.stderr
    (request,) = receiver.wait_for(1)
    assert request.path == "/hooks/doorstep"
    assert request.headers["Content-Type"] == "application/json"
    assert verify(request)
    assert not verify(request, secret="some-other-secret")
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "delivery_instructions.updated"
    assert body["id"] == delivery.event_id
    assert body["data"] == DATA
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None

    row = fresh(delivery.id)
    assert row.status == "delivered" and row.delivered_at is not None and row.next_attempt_at is None
    (attempt,) = attempts(delivery.id)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.error is None
    assert attempt.url == receiver.url and attempt.duration_ms >= 0


def test_a_real_worker_retries_after_the_shop_answers_500(
    app: Flask, receiver: Receiver, worker_env: None, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "1,1")  # seconds, so that the test does not wait minutes
    receiver.answers.append(500)
    delivery = queued()

    first = run_worker("webhooks")
    assert first.returncode == 0, first.stderr
    assert len(receiver.wait_for(1)) == 1
    row = fresh(delivery.id)
    assert row.status == "pending" and row.attempt_count == 1
    assert row.last_error == "HTTP 500: upstream trouble"
    # The next attempt waits in RQ's schedule; a burst worker started once it is due picks it up.
    assert f"webhook-{delivery.id}-2" in ScheduledJobRegistry(queue=get_queue("webhooks")).get_job_ids()
    assert row.next_attempt_at is not None
    time.sleep(max(0.0, (row.next_attempt_at - datetime.now(UTC)).total_seconds()) + 0.2)

    second = run_worker("webhooks")
    assert second.returncode == 0, second.stderr
    received = receiver.wait_for(2)
    assert len(received) == 2
    assert all(verify(request) for request in received)
    assert received[0].body == received[1].body  # the same event, byte for byte
    row = fresh(delivery.id)
    assert row.status == "delivered" and row.attempt_count == 2 and row.last_error is None
    assert [(a.number, a.status_code, a.succeeded) for a in attempts(delivery.id)] == [
        (1, 500, False),
        (2, 200, True),
    ]


def test_attempts_back_off_1m_5m_30m_2h_12h_then_give_up(app: Flask, receiver: Receiver) -> None:
    receiver.answers.extend([503] * 6)
    with clock.freeze(T0):
        delivery = queued()
        assert deliver_webhook(delivery.id) == "pending"
        scheduled = ScheduledJobRegistry(queue=get_queue("webhooks"))
        assert f"webhook-{delivery.id}-2" in scheduled.get_job_ids()
        gaps = []
        for _ in range(5):
            row = fresh(delivery.id)
            # Not before it is due: a job that runs early (or twice) makes no attempt.
            assert deliver_webhook(delivery.id) == "not due"
            assert row.next_attempt_at is not None
            gaps.append(row.next_attempt_at - clock.now())
            clock.advance(row.next_attempt_at - clock.now())
            deliver_webhook(delivery.id)
    assert gaps == [timedelta(seconds=s) for s in (60, 300, 1800, 7200, 43200)]
    assert len(receiver.received) == 6
    row = fresh(delivery.id)
    assert row.status == "failed" and row.next_attempt_at is None and row.attempt_count == 6
    assert row.last_error == "HTTP 503: upstream trouble"
    assert [a.status_code for a in attempts(delivery.id)] == [503] * 6


def test_the_sweeper_queues_due_attempts_whose_job_was_lost(app: Flask, receiver: Receiver) -> None:
    with clock.freeze(T0):
        delivery = queued()
        assert get_queue("webhooks").job_ids == [f"webhook-{delivery.id}-1"]
        redis_connection().flushdb()  # Redis lost the job (or was down at commit time)
        assert sweep_due_webhooks() == 1
        assert sweep_due_webhooks() == 0  # already waiting: not queued twice
        assert get_queue("webhooks").job_ids == [f"webhook-{delivery.id}-1"]
        assert deliver_webhook(delivery.id) == "delivered"
        assert sweep_due_webhooks() == 0
    assert len(receiver.received) == 1


def test_the_sweeper_takes_over_retries_after_the_clock_moves(app: Flask, receiver: Receiver) -> None:
    receiver.answers.append(500)
    with clock.freeze(T0):
        delivery = queued()
        deliver_webhook(delivery.id)
        redis_connection().flushdb()
        assert sweep_due_webhooks() == 0  # not due for another minute
        clock.advance(timedelta(seconds=60))
        assert sweep_due_webhooks() == 1
        assert get_queue("webhooks").job_ids == [f"webhook-{delivery.id}-2"]
        assert deliver_webhook(delivery.id) == "delivered"


def test_the_same_job_twice_makes_one_attempt(app: Flask, receiver: Receiver) -> None:
    delivery = queued()
    assert deliver_webhook(delivery.id) == "delivered"
    assert deliver_webhook(delivery.id) == "not due"
    assert len(receiver.received) == 1 and len(attempts(delivery.id)) == 1


def test_a_claim_left_by_a_dead_worker_is_released(app: Flask, receiver: Receiver) -> None:
    with clock.freeze(T0):
        delivery = queued()
        row = fresh(delivery.id)
        row.status, row.attempt_count, row.claimed_at = "sending", 1, T0
        db.session.commit()
        clock.advance(timedelta(minutes=1))
        sweep_due_webhooks()
        assert fresh(delivery.id).status == "sending"  # might still be running
        clock.advance(timedelta(minutes=5))
        sweep_due_webhooks()
        row = fresh(delivery.id)
        assert row.status == "pending" and row.next_attempt_at == clock.now() + timedelta(seconds=60)
        (attempt,) = attempts(delivery.id)
        assert attempt.error == "the worker stopped before the attempt finished" and attempt.started_at == T0
        clock.advance(timedelta(seconds=60))
        assert deliver_webhook(delivery.id) == "delivered"
    assert [a.number for a in attempts(delivery.id)] == [1, 2]


def test_no_answer_within_the_timeout_is_a_failed_attempt(app: Flask, receiver: Receiver) -> None:
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1
    receiver.delay = 2
    try:
        delivery = queued()
        assert deliver_webhook(delivery.id) == "pending"
    finally:
        app.config["WEBHOOK_TIMEOUT_SECONDS"] = 10
    (attempt,) = attempts(delivery.id)
    assert attempt.status_code is None and not attempt.succeeded
    assert attempt.error == "no answer within 1 s"
    assert attempt.duration_ms >= 1000


def test_a_refused_connection_is_a_failed_attempt(app: Flask, receiver: Receiver) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    app.config["SHOP_WEBHOOK_URL"] = f"http://127.0.0.1:{closed_port}/hooks"
    delivery = queued()
    assert deliver_webhook(delivery.id) == "pending"
    (attempt,) = attempts(delivery.id)
    assert attempt.status_code is None and attempt.error.startswith("connection failed")


def test_a_redirect_is_not_followed(app: Flask, receiver: Receiver) -> None:
    receiver.answers.append(302)
    delivery = queued()
    assert deliver_webhook(delivery.id) == "pending"
    assert len(receiver.received) == 1
    (attempt,) = attempts(delivery.id)
    assert attempt.status_code == 302 and not attempt.succeeded


def test_without_a_url_the_webhook_is_skipped(app: Flask, receiver: Receiver) -> None:
    app.config["SHOP_WEBHOOK_URL"] = None
    delivery = queued()
    assert deliver_webhook(delivery.id) == "skipped"
    row = fresh(delivery.id)
    assert row.status == "skipped" and row.last_error == "SHOP_WEBHOOK_URL is not set"
    assert attempts(delivery.id) == [] and receiver.received == []


def test_without_a_secret_nothing_is_sent_and_the_attempt_says_why(app: Flask, receiver: Receiver) -> None:
    app.config["SHOP_WEBHOOK_SECRET"] = None
    delivery = queued()
    assert deliver_webhook(delivery.id) == "pending"
    assert receiver.received == []
    assert attempts(delivery.id)[0].error == "SHOP_WEBHOOK_SECRET is not set: nothing was sent"


def test_staff_see_the_attempts_and_retry_a_failed_delivery(app: Flask, receiver: Receiver) -> None:
    app.config["WEBHOOK_RETRY_DELAYS"] = ()
    receiver.answers.append(500)
    try:
        delivery = queued()
        assert deliver_webhook(delivery.id) == "failed"
    finally:
        app.config["WEBHOOK_RETRY_DELAYS"] = (60, 300, 1800, 7200, 43200)
    (listed,) = recent_deliveries(status="failed")
    assert listed.id == delivery.id and [a.status_code for a in listed.attempts] == [500]
    with pytest.raises(Conflict):
        retry_delivery(queued("return.requested").id, Actor.user(1, "admin@example.com"))
    db.session.rollback()

    retry_delivery(delivery.id, Actor.system("test"))
    db.session.commit()
    assert f"webhook-{delivery.id}-2" in get_queue("webhooks").job_ids
    assert deliver_webhook(delivery.id) == "delivered"
    assert [a.succeeded for a in attempts(delivery.id)] == [False, True]
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_id == delivery.event_id)) == (
        "webhook.retried"
    )


def test_nothing_is_queued_when_the_transaction_rolls_back(app: Flask) -> None:
    queue_webhook("return.requested", {"rma": "R1"})
    db.session.rollback()
    assert db.session.scalar(select(WebhookDelivery.id)) is None
    assert get_queue("webhooks").count == 0
