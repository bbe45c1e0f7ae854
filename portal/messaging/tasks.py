"""Jobs (queue "messages"): the dispatcher that queues due messages, and the jobs that send them.

Both take ids or ISO strings, read fresh state and are safe to run any number of times: sending claims each
row with one conditional UPDATE (scheduled → sending), so of two runs only one goes on. A row left in
`sending` by a worker that died is handed back by the dispatcher once its lease has run out.

The dispatcher queues due messages MESSAGES_PER_JOB to a job (`send_messages`): each job runs in a forked work
horse, whose start (fork, database connection, SMTP greeting) costs more than sending one e-mail, so a batch
pays for it once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any, cast

import redis
from flask import current_app
from rq import Queue
from sqlalchemy import CursorResult, select, tuple_, update
from sqlalchemy.orm import joinedload

from portal import clock, mail
from portal.db import lock_keys
from portal.extensions import db
from portal.messaging import channels, rendering
from portal.messaging.models import Message
from portal.messaging.sequence import EMAIL
from portal.messaging.service import Recipient, check_guards, recipient_of
from portal.orders.models import Order
from portal.queue import PendingJob, enqueue_now, get_queue, live_job_ids

log = logging.getLogger(__name__)

DISPATCH_JOB_ID = "messages-dispatch"
MAX_BATCHES_PER_RUN = 50
# Messages per send job: enough that a job's start-up is a small part of it, few enough that a worker asked
# to stop (which finishes its current job first) stops within a second or two.
MESSAGES_PER_JOB = 20
# A send job claims no further message after this long (a slow SMTP server), so that it ends well within a
# supervisor's stop timeout; the messages it leaves stay due for the next dispatch.
JOB_SECONDS = 30
# "<prefix><send_job_id>" names the job holding that message's attempt, so a dispatch while it waits (or runs)
# does not queue it again. Kept a day: should a job wait longer, the message is queued once more, and of the
# two jobs only one can claim it.
_HELD_BY_PREFIX = "portal.message-held-by:"
_HOLD_SECONDS = 24 * 3600


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


def batch_job_id(batch: list[tuple[int, int]]) -> str:
    """The job of (message id, attempts) pairs: a lone message's own job id, else named after the first."""
    first_id, first_attempts = batch[0]
    if len(batch) == 1:
        return send_job_id(first_id, first_attempts)
    return f"messages-{first_id}-{first_attempts}-{len(batch)}"


# --- dispatch -----------------------------------------------------------------------------------------------


def dispatch_due_messages(until: str | None = None) -> int:
    """Queue the messages due by now (or by `until`, an ISO instant), MESSAGES_PER_JOB to a send job; return
    how many messages were queued (those a waiting or running job holds already are not).

    With `until`, each job judges its messages as of their due time (`flask portal dispatch --until`).
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
        try:
            queued += _queue_sends([(message_id, attempts) for message_id, attempts, _due_at in due], until)
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


def _queue_sends(due: list[tuple[int, int]], until: str | None) -> int:
    """Queue send jobs for due (message id, attempts) pairs, MESSAGES_PER_JOB to a job, leaving out those a
    waiting or running job holds; returns how many messages were queued. Three Redis round trips: the holds,
    the holders' states, then the jobs with their holds in one transaction."""
    if not due:
        return 0
    queue = get_queue("messages")
    connection = queue.connection
    own_ids = [send_job_id(message_id, attempts) for message_id, attempts in due]
    holders = [
        value.decode() if isinstance(value, bytes) else value
        for value in connection.mget([_HELD_BY_PREFIX + job_id for job_id in own_ids])
    ]
    # A message's own job id is checked too: a lone message's job, or one queued by hand, has that id.
    live = live_job_ids(sorted(set(own_ids) | {holder for holder in holders if holder}), connection)
    free = [
        pair
        for pair, own_id, holder in zip(due, own_ids, holders, strict=True)
        if own_id not in live and holder not in live
    ]
    batches = [free[start : start + MESSAGES_PER_JOB] for start in range(0, len(free), MESSAGES_PER_JOB)]
    with connection.pipeline() as pipeline:
        jobs = []
        for batch in batches:
            job_id = batch_job_id(batch)
            ids = [message_id for message_id, _attempts in batch]
            jobs.append(Queue.prepare_data(send_messages, (ids, until), job_id=job_id))
            for message_id, attempts in batch:
                pipeline.set(_HELD_BY_PREFIX + send_job_id(message_id, attempts), job_id, ex=_HOLD_SECONDS)
        queue.enqueue_many(jobs, pipeline=pipeline)
        pipeline.execute()
    return len(free)


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


def send_messages(message_ids: list[int], until: str | None = None) -> list[str]:
    """Send each of these messages as `send_message` does, over one SMTP connection; return what happened
    to each. Stops at the first failed send (say the SMTP server is down) or after JOB_SECONDS: the messages
    after that are not claimed, so they stay due and the next dispatch queues them again."""
    outcomes: list[str] = []
    deadline = time.monotonic() + JOB_SECONDS
    with mail.one_connection():
        for message_id in message_ids:
            outcome = send_message(message_id, until)
            outcomes.append(outcome)
            if outcome in ("retry", "failed") or time.monotonic() > deadline:
                break
    return outcomes


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
    # What the guards and the templates read, in one statement instead of a lazy load each.
    order = joinedload(Message.order)
    message = db.session.get(
        Message,
        message_id,
        options=[
            order.joinedload(Order.customer),
            order.joinedload(Order.items),
            joinedload(Message.shipment),
        ],
    )
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
    # The daily cap counts what went to an address, the survey throttle what went to a customer: two workers
    # sending to the same customer at once take turns, so neither count is read before the other's send.
    lock_keys(db.session, *recipient_keys(message, recipient))
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


def recipient_keys(message: Message, recipient: Recipient) -> list[str]:
    """The lock keys of a message's customer: the e-mail address, the SMS number and the account."""
    keys = [f"recipient:email:{recipient.email.strip().lower()}"] if recipient.email else []
    address = recipient.address(message.channel)
    if address and message.channel != EMAIL:
        keys.append(f"recipient:{message.channel}:{address}")
    if message.order.customer_id is not None:
        keys.append(f"recipient:customer:{message.order.customer_id}")
    return keys


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
