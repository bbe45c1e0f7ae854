"""End to end with real worker processes on real Redis: each step is received once, whatever happens."""

from __future__ import annotations

import signal
from datetime import datetime, timedelta
from typing import Any

import pytest

from portal import clock
from portal.extensions import db
from portal.messaging.tasks import dispatch_due_messages, send_message
from portal.queue import get_queue
from tests.messaging.conftest import deliver, kill_hard, place_order, row, rows, subjects, wait_until

pytestmark = pytest.mark.slow


def dispatch(runner: Any, until: datetime | None = None) -> str:
    args = ["portal", "dispatch"] + (["--until", until.isoformat()] if until else [])
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_a_placed_order_gets_its_confirmation(
    api: Any, mailbox: Any, run_worker: Any, runner: Any, frozen: datetime
) -> None:
    place_order(api)
    assert dispatch(runner) == "1 message(s) queued\n"
    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    [message] = mailbox.wait_for(1)
    assert message["Subject"] == "Your order 1001 is confirmed"
    assert row("1001", "order_confirmation").status == "sent"


def test_follow_up_and_survey_are_sent_when_dispatched_at_their_time(
    api: Any, mailbox: Any, run_worker: Any, runner: Any, frozen: datetime
) -> None:
    deliver(api)
    assert dispatch(runner) == "3 message(s) queued\n"
    assert run_worker("messages").returncode == 0
    assert subjects(mailbox.wait_for(2)) == [  # the shipping news came too late: the parcel had arrived
        "Your order 1001 is confirmed",
        "Your parcel for order 1001 has been delivered",
    ]
    assert dispatch(runner, frozen + timedelta(days=1)) == "0 message(s) queued\n"
    assert dispatch(runner, frozen + timedelta(days=2)) == "1 message(s) queued\n"
    assert run_worker("messages").returncode == 0
    assert subjects(mailbox.wait_for(3)[2:]) == ["How is your order 1001?"]
    assert dispatch(runner, frozen + timedelta(days=7)) == "1 message(s) queued\n"
    assert run_worker("messages").returncode == 0
    assert subjects(mailbox.wait_for(4)[3:]) == ["How did we do with order 1001?"]
    assert len(mailbox.messages) == 4
    assert {(m.step, m.status) for m in rows()} == {
        ("order_confirmation", "sent"),
        ("shipped", "skipped"),
        ("delivered", "sent"),
        ("post_delivery_followup", "sent"),
        ("survey_invitation", "sent"),
    }


def test_dispatching_twice_and_two_workers_send_each_step_once(
    api: Any, mailbox: Any, runner: Any, start_worker: Any, frozen: datetime
) -> None:
    for number in ("1001", "1002", "1003"):
        deliver(api, number, email=f"customer-{number}@example.com")  # the daily cap is per customer
    due = frozen + timedelta(days=7)
    dispatch(runner, due)
    dispatch(runner, due)
    # A second dispatcher that lost track of the first: the same messages queued again under other ids.
    queue = get_queue("messages")
    for message in rows("1001") + rows("1002") + rows("1003"):
        queue.enqueue(send_message, message.id, due.isoformat(), job_id=f"again-{message.id}")
    workers = [start_worker(), start_worker()]
    for worker in workers:
        output, _ = worker.communicate(timeout=60)
        assert worker.returncode == 0, output
    received = mailbox.wait_for(12)
    assert len(received) == 12  # 3 orders x (confirmation, delivered, follow-up, survey)
    assert len({str(m["Message-ID"]) for m in received}) == 12
    assert len(set(subjects(received))) == 12  # every step of every order, once


def test_a_worker_killed_during_a_send_leaves_at_most_one_mail(
    app: Any,
    api: Any,
    mailbox: Any,
    run_worker: Any,
    start_worker: Any,
    hung_smtp_port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    place_order(api)
    assert dispatch_due_messages() == 1
    # This worker's SMTP server accepts the connection and never answers: the send hangs in the middle.
    worker = start_worker(MAIL_PORT=hung_smtp_port)

    def claimed() -> bool:
        db.session.expire_all()
        return row("1001", "order_confirmation").status == "sending"

    wait_until(claimed)
    kill_hard(worker)
    assert row("1001", "order_confirmation").status == "sending"

    monkeypatch.setitem(app.config, "MESSAGE_SEND_LEASE_SECONDS", 5)
    with clock.freeze(clock.now() + timedelta(seconds=6)):
        assert dispatch_due_messages() == 1  # the sweeper handed the row back
    assert run_worker("messages").returncode == 0
    assert len(mailbox.wait_for(1)) == 1
    confirmation = row("1001", "order_confirmation")
    assert (confirmation.status, confirmation.attempts) == ("sent", 2)


def test_a_running_worker_dispatches_every_interval(
    api: Any, mailbox: Any, start_worker: Any, frozen: datetime
) -> None:
    """Nobody runs `dispatch`: the long-running worker's own periodic dispatch finds the due row."""
    place_order(api)
    worker = start_worker(burst=False, MESSAGE_DISPATCH_INTERVAL_SECONDS=1)
    try:
        assert len(mailbox.wait_for(1, timeout=30)) == 1
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert row("1001", "order_confirmation").status == "sent"
