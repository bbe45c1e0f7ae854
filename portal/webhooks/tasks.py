"""Webhook jobs: one attempt per job, signed as CONTRACT.md says, retried with backoff; each attempt kept.

`deliver_webhook(delivery_id)` claims the row (pending and due → sending) with one conditional UPDATE, so the
same job run twice, or by two workers, makes one attempt. `sweep_due_webhooks()` is for a periodic job: it
queues attempts whose job was lost (Redis down at commit, a worker killed) and releases stalled claims.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from flask import current_app
from sqlalchemy import CursorResult, select, update

from portal import clock
from portal.extensions import db
from portal.queue import PendingJob, enqueue_after_commit, enqueue_now
from portal.webhooks.models import WebhookAttempt, WebhookDelivery
from portal.webhooks.service import DELIVER_JOB, WEBHOOK_QUEUE, attempt_job_id

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Doorstep-Signature"
USER_AGENT = "Doorstep-Webhooks/1"
# How much of the shop's answer to keep when it is not a success.
ERROR_EXCERPT = 300
# A claim older than the timeout plus this margin belongs to a worker that died mid-attempt.
STALLED_MARGIN = timedelta(minutes=2)


@dataclass(frozen=True)
class AttemptOutcome:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `Doorstep-Signature` header value: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver_webhook(delivery_id: int) -> str:
    """Make the next attempt for one outbox row if it is due; does nothing (and says why) otherwise."""
    config = current_app.config
    started = clock.now()
    attempt = _claim(delivery_id, started)
    if attempt is None:
        db.session.commit()
        return "not due"
    delivery = db.session.get(WebhookDelivery, delivery_id)
    assert delivery is not None  # claimed just now
    body = delivery.body.encode()
    url, secret = config.get("SHOP_WEBHOOK_URL"), config.get("SHOP_WEBHOOK_SECRET")
    if not url:
        delivery.status = "skipped"
        delivery.next_attempt_at = None
        delivery.last_error = "SHOP_WEBHOOK_URL is not set"
        db.session.commit()
        return "skipped"
    # End the claim's transaction: no database connection waits on the shop's server.
    db.session.commit()
    if secret:
        outcome = post(
            url, body, sign(body, secret, int(started.timestamp())), config["WEBHOOK_TIMEOUT_SECONDS"]
        )
    else:
        outcome = AttemptOutcome(None, "SHOP_WEBHOOK_SECRET is not set: nothing was sent", 0)
    return _record(delivery_id, attempt, url, started, outcome, config["WEBHOOK_RETRY_DELAYS"])


def _claim(delivery_id: int, now: datetime) -> int | None:
    """Mark the row as being sent if it is pending and due; return the attempt's number, or None."""
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(status="sending", claimed_at=now, attempt_count=WebhookDelivery.attempt_count + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return None
    return db.session.scalar(select(WebhookDelivery.attempt_count).where(WebhookDelivery.id == delivery_id))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer, not a success: the shop must configure the final URL.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post(url: str, body: bytes, signature: str, timeout: float) -> AttemptOutcome:
    """POST the body once; never raises for network trouble or an error status (the outcome says what)."""
    if not url.startswith(("https://", "http://")):
        return AttemptOutcome(None, "SHOP_WEBHOOK_URL must start with https:// or http://", 0)
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, SIGNATURE_HEADER: signature},
    )
    begun = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(ERROR_EXCERPT)
    except urllib.error.HTTPError as answer:
        status = answer.code
        excerpt = answer.read(ERROR_EXCERPT).decode("utf-8", "replace").strip()
        error = f"HTTP {answer.code}" + (f": {excerpt}" if excerpt else "")
    except TimeoutError:
        error = f"no answer within {timeout:g} s"
    except urllib.error.URLError as problem:
        error = f"connection failed: {problem.reason}"
    except (OSError, http.client.HTTPException, ValueError) as problem:
        error = f"{type(problem).__name__}: {problem}"
    duration_ms = round((time.monotonic() - begun) * 1000)
    return AttemptOutcome(status, error[:500] if error else None, duration_ms)


def _record(
    delivery_id: int,
    number: int,
    url: str | None,
    started: datetime,
    outcome: AttemptOutcome,
    delays: tuple[int, ...],
) -> str:
    """Store the attempt and decide what happens next: delivered, another attempt later, or failed."""
    delivery = db.session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None or delivery.status != "sending" or delivery.attempt_count != number:
        # Deleted, or released by the sweeper as stalled (which recorded this attempt) meanwhile.
        db.session.rollback()
        return "released"
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            number=number,
            url=url[:500] if url else None,
            started_at=started,
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            succeeded=outcome.succeeded,
            error=outcome.error,
        )
    )
    delivery.claimed_at = None
    if outcome.succeeded:
        delivery.status = "delivered"
        delivery.delivered_at = clock.now()
        delivery.next_attempt_at = None
        delivery.last_error = None
    elif number > len(delays):
        delivery.status = "failed"
        delivery.next_attempt_at = None
        delivery.last_error = outcome.error
        log.warning("webhook %s failed for good after %s attempts", delivery.event_id, number)
    else:
        delay = timedelta(seconds=delays[number - 1])
        delivery.status = "pending"
        delivery.next_attempt_at = clock.now() + delay
        delivery.last_error = outcome.error
        enqueue_after_commit(
            DELIVER_JOB,
            delivery.id,
            job_id=attempt_job_id(delivery.id, number + 1),
            queue=WEBHOOK_QUEUE,
            delay=delay,
        )
    db.session.commit()
    return delivery.status


def sweep_due_webhooks(limit: int = 500) -> int:
    """Queue every pending attempt that is due (at most `limit`); release claims of dead workers.

    Meant to run every minute or so. Attempts already waiting in Redis are not queued twice. Returns how many
    jobs were queued.
    """
    now = clock.now()
    _release_stalled(now)
    due = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempt_count)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.commit()
    queued = 0
    for delivery_id, attempts in due:
        job = PendingJob(
            DELIVER_JOB, (delivery_id,), attempt_job_id(delivery_id, attempts + 1), WEBHOOK_QUEUE
        )
        try:
            queued += enqueue_now(job)
        except redis.RedisError:
            log.warning("redis unavailable; webhook %s stays due", delivery_id, exc_info=True)
            break
    return queued


def _release_stalled(now: datetime) -> None:
    """A claim older than the timeout (plus a margin) was left by a worker that died: count it as failed."""
    timeout = timedelta(seconds=current_app.config["WEBHOOK_TIMEOUT_SECONDS"]) + STALLED_MARGIN
    stalled = db.session.execute(
        select(WebhookDelivery.id, WebhookDelivery.attempt_count, WebhookDelivery.claimed_at).where(
            WebhookDelivery.status == "sending", WebhookDelivery.claimed_at < now - timeout
        )
    ).all()
    db.session.commit()
    for delivery_id, number, claimed_at in stalled:
        claimed_at = claimed_at or now
        outcome = AttemptOutcome(None, "the worker stopped before the attempt finished", 0)
        released = _record(
            delivery_id, number, None, claimed_at, outcome, current_app.config["WEBHOOK_RETRY_DELAYS"]
        )
        log.warning("webhook %s: released a stalled attempt (%s)", delivery_id, released)
