"""Jobs (queue "messages"): the dispatcher that queues due messages, and the job that sends one.

Both take ids or ISO strings, read fresh state and are safe to run any number of times: the send job claims
its row with one conditional UPDATE (scheduled → sending), so of two runs only one goes on. A row left in
`sending` by a worker that died is handed back by the dispatcher once its lease has run out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from flask import current_app
from sqlalchemy import CursorResult, select, tuple_, update

from portal import clock
from portal.extensions import db
from portal.messaging import channels, rendering
from portal.messaging.models import Message
from portal.messaging.sequence import EMAIL
from portal.messaging.service import check_guards, recipient_of
from portal.queue import PendingJob, enqueue_many_now, enqueue_now

log = logging.getLogger(__name__)

DISPATCH_JOB_ID = "messages-dispatch"
MAX_BATCHES_PER_RUN = 50


def _parse_instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no UTC offset")
    return moment


def send_job_id(message_id: int, attempts: int) -> str:
    """One job per attempt: a retry (or a send taken over from a dead worker) is a new job."""
    return f"message-{message_id}-{attempts}"


# --- dispatch -----------------------------------------------------------------------------------------------


def dispatch_due_messages(until: str | None = None) -> int:
    """Queue one send job per message due by now (or by `until`, an ISO instant); return how many.

    With `until`, each job judges its message as of the message's due time (`flask portal dispatch --until`).
    Due rows are read in batches of MESSAGE_DISPATCH_BATCH along the (status, due_at) index, at most
    MAX_BATCHES_PER_RUN per run (the next run goes on). Stops early when Redis is unreachable, leaving the
    rest for the next run: the rows are the truth.
    """
    limit = _parse_instant(until) or clock.now()
    sweep_abandoned_sends()
    batch_size = int(current_app.config["MESSAGE_DISPATCH_BATCH"])
    queued = seen = 0
    after: tuple[datetime, int] | None = None
    for _batch in range(MAX_BATCHES_PER_RUN):
        query = select(Message.id, Message.attempts, Message.due_at).where(
            Message.status == "scheduled", Message.due_at <= limit
        )
        if after is not None:
            query = query.where(tuple_(Message.due_at, Message.id) > tuple_(*after))
        due = db.session.execute(query.order_by(Message.due_at, Message.id).limit(batch_size)).all()
        db.session.commit()
        jobs = [
            PendingJob(send_message, (message_id, until), send_job_id(message_id, attempts), queue="messages")
            for message_id, attempts, _due_at in due
        ]
        try:
            queued += enqueue_many_now(jobs)
        except redis.RedisError:
            log.warning("redis unavailable; due messages left for the next dispatch")
            return queued
        seen += len(due)
        if len(due) < batch_size:
            break
        after = (due[-1].due_at, due[-1].id)
    if seen:
        log.info("dispatch: %d due, %d queued", seen, queued)
    return queued


def sweep_abandoned_sends() -> int:
    """Hand rows stuck in `sending` past the lease (their worker died) back to the dispatcher; commits.

    The attempt they were on counts; one that used the last attempt fails.
    """
    now = clock.now()
    config = current_app.config
    expired = now - timedelta(seconds=int(config["MESSAGE_SEND_LEASE_SECONDS"]))
    max_attempts = int(config["MESSAGE_MAX_ATTEMPTS"])
    stuck = (Message.status == "sending", Message.claimed_at < expired)
    failed = _rowcount(
        db.session.execute(
            update(Message)
            .where(*stuck, Message.attempts >= max_attempts)
            .values(status="failed", last_error="the worker stopped during the send", updated_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    retried = _rowcount(
        db.session.execute(
            update(Message)
            .where(*stuck)
            .values(
                status="scheduled",
                claimed_at=None,
                last_error="the worker stopped during the send",
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    if failed or retried:
        log.warning("sweeper: %d abandoned send(s) retried, %d failed", retried, failed)
    return retried


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def queue_dispatch() -> bool:
    """Queue a dispatch run unless one is waiting or running (the worker calls this every minute)."""
    return enqueue_now(PendingJob(dispatch_due_messages, (), DISPATCH_JOB_ID, queue="messages"))


# --- sending ------------------------------------------------------------------------------------------------


def send_message(message_id: int, until: str | None = None) -> str:
    """Send one due message once: claim it, apply the guards, render, send, record. Returns what happened.

    `until` set means "dispatched with --until": the row may be due up to then, and the guards judge it as
    of its due time. Failures are recorded on the row (attempts, error, next try with backoff).
    """
    now = clock.now()
    limit = _parse_instant(until) or now
    claimed = _rowcount(
        db.session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "scheduled", Message.due_at <= limit)
            .values(status="sending", claimed_at=now, attempts=Message.attempts + 1, updated_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    if not claimed:
        return "not claimed"
    message = db.session.get(Message, message_id)
    assert message is not None
    as_of = message.due_at if until else now
    try:
        outcome = _deliver(message, as_of)
    except Exception as error:
        db.session.rollback()
        return _record_failure(message_id, error, as_of)
    db.session.commit()
    return outcome


def _deliver(message: Message, as_of: datetime) -> str:
    recipient = recipient_of(message.order)
    decision = check_guards(message, recipient, as_of)
    if decision.skip_reason is not None:
        message.status, message.skip_reason, message.claimed_at = "skipped", decision.skip_reason, None
        message.attempts -= 1
        log.info("message %s skipped: %s", message.id, decision.skip_reason)
        return f"skipped: {decision.skip_reason}"
    if decision.defer_until is not None:
        # A deferral is not an attempt; the job id for the next run stays the same.
        message.status, message.due_at, message.claimed_at = "scheduled", decision.defer_until, None
        message.attempts -= 1
        log.info("message %s deferred to %s", message.id, decision.defer_until.isoformat())
        return f"deferred to {decision.defer_until.isoformat()}"

    address = recipient.address(message.channel)
    assert address is not None  # the guards skip a message without one
    context = rendering.template_context(message, recipient)
    # Stable across attempts (a receiver can spot a repeat), and the creation time keeps it unique should the
    # database ever start counting ids afresh.
    reference = f"message-{message.id}.{int(message.created_at.timestamp())}"
    if message.channel == EMAIL:
        content, locale = rendering.render_email(message.step, recipient.locale, recipient.timezone, context)
        headers = {"Auto-Submitted": "auto-generated"}
        if context.get("unsubscribe_url"):
            headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        provider_id = channels.send_email(
            address, recipient.name, content, reference=reference, headers=headers
        )
    else:
        text, locale = rendering.render_sms(message.step, recipient.locale, recipient.timezone, context)
        provider_id = channels.sms_backend().send(address, text, reference=reference)
        message.body = text
    message.status, message.sent_at, message.claimed_at = "sent", clock.now(), None
    message.provider_id, message.recipient, message.locale = provider_id, address, locale
    message.last_error = None
    log.info("message %s (%s by %s) sent to %s", message.id, message.step, message.channel, address)
    return "sent"


def _record_failure(message_id: int, error: Exception, as_of: datetime) -> str:
    """Record a failed attempt: try again after the next backoff delay, or fail after the last attempt."""
    config = current_app.config
    message = db.session.get(Message, message_id)
    if message is None or message.status != "sending":
        return "gone"
    detail = f"{type(error).__name__}: {error}"[:500]
    message.last_error, message.claimed_at = detail, None
    if message.attempts >= int(config["MESSAGE_MAX_ATTEMPTS"]):
        message.status = "failed"
        log.error("message %s failed for good after %d attempts: %s", message_id, message.attempts, detail)
    else:
        delays = tuple(config["MESSAGE_RETRY_DELAYS"])
        wait = delays[min(message.attempts, len(delays)) - 1]
        message.status, message.due_at = "scheduled", as_of + timedelta(seconds=int(wait))
        log.warning(
            "message %s attempt %d failed (%s); next try at %s",
            message_id,
            message.attempts,
            detail,
            message.due_at.isoformat(),
            exc_info=not isinstance(error, channels.SendFailed),
        )
    db.session.commit()
    return "failed" if message.status == "failed" else "retry"
