"""Jobs (queue "messages") that send the account e-mails, and their sweeper.

The service writes an `AccountEmail` row with the change that asks for the e-mail and queues
`send_account_email(row id)` after the commit. The job claims the row with one conditional UPDATE (pending, or
sending with an expired lease → sending), so however often it runs the e-mail goes out once; it builds the
links at send time, so no token is ever stored or waits in Redis. If Redis was down at commit time, or an
attempt failed, or the worker died mid-send, `sweep_account_emails` (every minute, by each worker serving
"messages") queues the row again: the row is the truth.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, and_, or_, select, update

from portal import clock
from portal.accounts.models import AccountEmail, User
from portal.accounts.tokens import (
    make_reset_token,
    make_verification_token,
    reset_link_lifetime_seconds,
    verify_link_lifetime_seconds,
)
from portal.extensions import db
from portal.mail import send_email
from portal.queue import PendingJob, enqueue_many_now
from portal.urls import external_url

log = logging.getLogger(__name__)

QUEUE = "messages"
# A pending row this old whose job has not claimed it was (most likely) never queued: Redis was down.
LOST_JOB_AFTER = timedelta(seconds=30)


def _active_user(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.active else None


def job_id(row_id: int, attempts: int = 0) -> str:
    """The first attempt's job id is the one the service queues after the commit; each later attempt (after a
    failure, or taken over from a worker that died) is a new job."""
    return f"account-email-{row_id}" if attempts == 0 else f"account-email-{row_id}-{attempts}"


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config["MESSAGE_SEND_LEASE_SECONDS"]))


def _max_attempts() -> int:
    return int(current_app.config["MESSAGE_MAX_ATTEMPTS"])


# --- sending ------------------------------------------------------------------------------------------------


def send_account_email(row_id: int) -> str:
    """Send the row's account e-mail once: claim it, build the links, send, record. Returns what happened.

    A failed send puts the row back to pending (failed after MESSAGE_MAX_ATTEMPTS) and raises, so RQ records
    the failure; the sweeper queues the next attempt.
    """
    now = clock.now()
    claimed = _rowcount(
        db.session.execute(
            update(AccountEmail)
            .where(
                AccountEmail.id == row_id,
                AccountEmail.attempts < _max_attempts(),
                or_(
                    AccountEmail.status == "pending",
                    and_(AccountEmail.status == "sending", AccountEmail.claimed_at < now - _lease()),
                ),
            )
            .values(status="sending", claimed_at=now, attempts=AccountEmail.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    )
    db.session.commit()
    if not claimed:
        return "not claimed"
    row = db.session.get(AccountEmail, row_id)
    assert row is not None
    user = _active_user(row.user_id)
    content = _content(row, user) if user is not None else "the account is inactive"
    if isinstance(content, str):
        row.status, row.last_error = "skipped", content
        db.session.commit()
        log.info("account e-mail %s (%s) skipped: %s", row_id, row.kind, content)
        return f"skipped: {content}"
    assert user is not None
    address, template, context = content
    try:
        send_email(address, template, user.locale, to_name=user.name, customer_name=user.name, **context)
    except Exception as error:
        db.session.rollback()
        _record_failure(row_id, error)
        raise
    row.status, row.sent_at, row.last_error = "sent", clock.now(), None
    db.session.commit()
    log.info("account e-mail %s (%s) sent", row_id, row.kind)
    return "sent"


def _content(row: AccountEmail, user: User) -> tuple[str, str, dict[str, Any]] | str:
    """(address, template, context) of the row's e-mail as of now, or why there is nothing (left) to send."""
    if row.kind == "verify_email":
        # Always the current address, with a link that works with the current password.
        if user.email_verified_at is not None:
            return "the address is verified already"
        context = {
            "link": external_url("accounts.verify_email", token=make_verification_token(user)),
            "hours": verify_link_lifetime_seconds() // 3600,
        }
        return user.email, "verify_email", context
    if row.kind == "password_reset":
        # reason "forgot": the user asked; "registration": someone tried to register with the address of this
        # account (the e-mail says so, and offers the link in case the owner forgot the password).
        context = {
            "reason": row.reason or "forgot",
            "link": external_url("accounts.reset_password", token=make_reset_token(user)),
            "sign_in_link": external_url("accounts.login"),
            "minutes": reset_link_lifetime_seconds() // 60,
        }
        return user.email, "password_reset", context
    if row.kind == "email_changed":
        # Tells the previous address that the account moved, in case that was not the owner.
        if not row.to_address or user.email == row.to_address:
            return "the account is back on that address"
        return row.to_address, "email_changed", {"new_email": user.email}
    return f"unknown kind {row.kind!r}"


def _record_failure(row_id: int, error: Exception) -> None:
    """Record a failed attempt: pending again (the sweeper queues the next one after the backoff delay), or
    failed after the last attempt. `claimed_at` keeps the time the attempt began."""
    row = db.session.get(AccountEmail, row_id)
    if row is None or row.status != "sending":
        return
    row.last_error = f"{type(error).__name__}: {error}"[:500]
    if row.attempts >= _max_attempts():
        row.status = "failed"
        log.error(
            "account e-mail %s failed for good after %d attempts: %s", row_id, row.attempts, row.last_error
        )
    else:
        row.status = "pending"
        log.warning("account e-mail %s attempt %d failed: %s", row_id, row.attempts, row.last_error)
    db.session.commit()


# --- sweeping -----------------------------------------------------------------------------------------------


def _due_again(attempts: int, claimed_at: datetime | None, now: datetime) -> bool:
    """A pending row after a failed attempt waits MESSAGE_RETRY_DELAYS (the same backoff as the messages)."""
    if attempts == 0 or claimed_at is None:
        return True
    delays = tuple(current_app.config["MESSAGE_RETRY_DELAYS"])
    wait = int(delays[min(attempts, len(delays)) - 1]) if delays else 0
    return claimed_at + timedelta(seconds=wait) <= now


def sweep_account_emails(limit: int = 1000) -> int:
    """Queue the rows whose job was lost (pending for over LOST_JOB_AFTER: Redis was down at commit, or an
    attempt failed and its backoff delay is over) and those stuck in sending past MESSAGE_SEND_LEASE_SECONDS
    (their worker died); one stuck on its last attempt fails. Returns how many jobs were queued. Raises
    redis.RedisError while Redis is away (the worker's periodic thread tries again a minute later)."""
    now = clock.now()
    expired = now - _lease()
    stuck = (AccountEmail.status == "sending", AccountEmail.claimed_at < expired)
    failed = _rowcount(
        db.session.execute(
            update(AccountEmail)
            .where(*stuck, AccountEmail.attempts >= _max_attempts())
            .values(status="failed", last_error="the worker stopped during the send")
            .execution_options(synchronize_session=False)
        )
    )
    rows = db.session.execute(
        select(AccountEmail.id, AccountEmail.status, AccountEmail.attempts, AccountEmail.claimed_at)
        .where(
            or_(
                and_(AccountEmail.status == "pending", AccountEmail.created_at < now - LOST_JOB_AFTER),
                and_(*stuck),
            )
        )
        .order_by(AccountEmail.created_at)
        .limit(limit)
    ).all()
    db.session.commit()
    if failed:
        log.error("account e-mail sweeper: %d abandoned send(s) on their last attempt failed", failed)
    jobs = [
        PendingJob(send_account_email, (row_id,), job_id(row_id, attempts), queue=QUEUE)
        for row_id, status, attempts, claimed_at in rows
        if status == "sending" or _due_again(attempts, claimed_at, now)
    ]
    queued = enqueue_many_now(jobs)
    if queued:
        log.warning("account e-mail sweeper: %d e-mail(s) queued again", queued)
    return queued
