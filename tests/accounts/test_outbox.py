"""Account e-mails are rows first (issue 11): one asked for while Redis is down, sent by a job run twice, or
refused by the SMTP server still goes out exactly once, through the real worker and the real SMTP sink."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import select

import portal.queue
from portal import clock
from portal.accounts import tasks
from portal.accounts.models import AccountEmail, User
from portal.extensions import db
from portal.queue import PendingJob, enqueue_now, get_queue
from tests.accounts.conftest import link_in, mails_to, post_form
from tests.conftest import ROOT, worker_env
from tests.messaging.conftest import free_port


def ask_for_reset(client: FlaskClient, email: str = "sam@example.com") -> None:
    response = post_form(client, "/password/forgot", {"email": email})
    assert response.status_code == 303 and response.location == "/password/forgot/sent"


def the_row() -> AccountEmail:
    db.session.expire_all()
    [row] = db.session.scalars(select(AccountEmail)).all()
    return row


def sweep_at(moment: datetime) -> int:
    with clock.freeze(moment):
        return tasks.sweep_account_emails()


def test_a_reset_asked_for_while_redis_is_down_goes_out_once_it_is_back(
    client: FlaskClient, shopper: User, mailbox: Any, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(name: str = "default") -> Any:
        raise redis.ConnectionError("Redis is down (test)")

    with monkeypatch.context() as patched:
        patched.setattr(portal.queue, "get_queue", unreachable)
        ask_for_reset(client)
        with pytest.raises(redis.ConnectionError):  # the sweeper waits for Redis too
            sweep_at(datetime.now(UTC) + timedelta(minutes=1))

    row = the_row()
    assert (row.user_id, row.kind, row.reason, row.status, row.attempts) == (
        shopper.id,
        "password_reset",
        "forgot",
        "pending",
        0,
    )
    assert get_queue("messages").count == 0  # the job was lost
    assert run_worker("messages").returncode == 0
    assert mailbox.messages == []

    asked_at = row.created_at
    assert sweep_at(asked_at + timedelta(seconds=5)) == 0  # its job may still be on the way
    assert sweep_at(asked_at + timedelta(seconds=31)) == 1
    assert sweep_at(asked_at + timedelta(seconds=32)) == 0  # waiting already: not twice
    result = run_worker("messages")
    assert result.returncode == 0, result.stderr

    [message] = mailbox.messages
    assert mails_to([message], "sam@example.com") and "Set a new password" in message["Subject"]
    assert link_in(message, "/password/reset/")
    row = the_row()
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at is not None
    assert sweep_at(asked_at + timedelta(minutes=5)) == 0
    assert run_worker("messages").returncode == 0
    assert len(mailbox.messages) == 1


def test_a_job_run_twice_sends_once(
    client: FlaskClient, shopper: User, mailbox: Any, run_worker: Any
) -> None:
    ask_for_reset(client)
    ask_for_reset(client)  # a double click: the row waiting is queued again, not joined by another
    row = the_row()
    assert get_queue("messages").count == 1
    # The same job once more under another id (as a sweeper racing the first run would queue it).
    assert enqueue_now(PendingJob(tasks.send_account_email, (row.id,), "account-email-again", "messages"))
    assert get_queue("messages").count == 2

    result = run_worker("messages")
    assert result.returncode == 0, result.stderr

    assert len(mails_to(mailbox.messages, "sam@example.com")) == 1
    assert tasks.send_account_email(row.id) == "not claimed"
    row = the_row()
    assert (row.status, row.attempts) == ("sent", 1)


def test_smtp_down_puts_the_row_back_and_it_is_delivered_once_later(
    client: FlaskClient, app_config: dict[str, Any], shopper: User, mailbox: Any, run_worker: Any
) -> None:
    ask_for_reset(client)
    env = {**worker_env(app_config), "MAIL_PORT": str(free_port())}  # nothing listens there
    command = [sys.executable, str(ROOT / "worker.py"), "--burst", "--queues", "messages"]
    refused = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 0, refused.stderr

    row = the_row()
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error is not None and "ConnectionRefused" in row.last_error
    assert mailbox.messages == []
    assert row.claimed_at is not None
    tried_at = row.claimed_at
    assert sweep_at(tried_at + timedelta(seconds=30)) == 0  # not before the backoff (MESSAGE_RETRY_DELAYS)
    assert sweep_at(tried_at + timedelta(seconds=61)) == 1

    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    [message] = mails_to(mailbox.messages, "sam@example.com")
    assert link_in(message, "/password/reset/")
    row = the_row()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(mailbox.messages) == 1


def test_a_send_whose_worker_died_is_taken_over_and_fails_after_the_last_attempt(
    app: Any, shopper: User, mailbox: Any
) -> None:
    now = datetime.now(UTC)
    lease = timedelta(seconds=app.config["MESSAGE_SEND_LEASE_SECONDS"])
    stuck = AccountEmail(
        user_id=shopper.id,
        kind="password_reset",
        reason="forgot",
        status="sending",
        attempts=1,
        claimed_at=now,
    )
    last = AccountEmail(
        user_id=shopper.id,
        kind="verify_email",
        status="sending",
        attempts=app.config["MESSAGE_MAX_ATTEMPTS"],
        claimed_at=now,
    )
    db.session.add_all([stuck, last])
    db.session.commit()
    stuck_id, last_id = stuck.id, last.id

    assert sweep_at(now + lease - timedelta(seconds=1)) == 0  # the lease still runs
    with clock.freeze(now + lease - timedelta(seconds=1)):
        assert tasks.send_account_email(stuck_id) == "not claimed"
    assert sweep_at(now + lease + timedelta(seconds=1)) == 1
    assert get_queue("messages").job_ids == [tasks.job_id(stuck_id, 1)]
    assert db.session.get(AccountEmail, last_id).status == "failed"  # type: ignore[union-attr]

    with clock.freeze(now + lease + timedelta(seconds=2)):
        assert tasks.send_account_email(stuck_id) == "sent"
        assert tasks.send_account_email(last_id) == "not claimed"
    assert len(mails_to(mailbox.wait_for(1), "sam@example.com")) == 1
    row = db.session.get(AccountEmail, stuck_id)
    assert row is not None and (row.status, row.attempts) == ("sent", 2)
