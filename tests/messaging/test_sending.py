"""The send job and its guards, run in this process under a frozen clock; e-mails go to a real SMTP sink."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from portal import clock
from portal.accounts.models import User
from portal.extensions import db
from portal.messaging import channels, signals, tasks
from portal.messaging.models import Message
from portal.messaging.sequence import AFTER_DELIVERY_STEPS
from tests.messaging.conftest import (
    deliver,
    free_port,
    iso,
    make_shopper,
    order_event,
    place_order,
    row,
    rows,
    send,
    send_due,
    ship,
    subjects,
    text_of,
    track,
)

# 22:00 UTC on a winter evening is 23:00 in Berlin.
LATE_EVENING = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
NEXT_MORNING_BERLIN = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


def test_a_placed_order_gets_its_confirmation(api: Any, mailbox: Any, frozen: datetime) -> None:
    place_order(api)
    assert send_due() == ["sent"]
    [message] = mailbox.wait_for(1)
    assert message["Subject"] == "Your order 1001 is confirmed"
    assert message["To"] == "Ada Lovelace <ada@example.com>"
    assert message.is_multipart() and message.get_body(("html",)) is not None
    assert "2 × T-shirt (Black / M)" in text_of(message)
    assert "List-Unsubscribe" not in message  # transactional
    confirmation = row("1001", "order_confirmation")
    assert confirmation.status == "sent" and confirmation.sent_at == frozen
    reference = f"message-{confirmation.id}.{int(frozen.timestamp())}"
    assert confirmation.provider_id == message["Message-ID"] == f"<{reference}@localhost>"
    assert confirmation.attempts == 1
    assert send_due() == []  # nothing is due twice


def test_follow_up_and_survey_go_out_when_they_are_due(api: Any, mailbox: Any, frozen: datetime) -> None:
    deliver(api)
    send_due()
    # The parcel arrived before the shipping e-mail could go: it would be old news.
    assert subjects(mailbox.wait_for(2)) == [
        "Your order 1001 is confirmed",
        "Your parcel for order 1001 has been delivered",
    ]
    assert row("1001", "shipped").skip_reason == "superseded"
    mailbox.messages.clear()
    assert send_due(frozen + timedelta(days=2) - timedelta(minutes=1)) == []
    assert send_due(frozen + timedelta(days=2)) == ["sent"]
    [follow_up] = mailbox.wait_for(1)
    assert follow_up["Subject"] == "How is your order 1001?"
    unsubscribe = follow_up["List-Unsubscribe"]
    assert unsubscribe.strip().startswith("<http://portal.test/unsubscribe/") and unsubscribe.endswith(">")
    assert follow_up["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert send_due(frozen + timedelta(days=7)) == ["sent"]
    assert mailbox.wait_for(2)[1]["Subject"] == "How did we do with order 1001?"


def test_nothing_goes_out_after_a_cancellation(api: Any, mailbox: Any, frozen: datetime) -> None:
    place_order(api)
    order_event(api, "1001", "paid")
    order_event(api, "1001", "cancelled")
    assert send_due() == ["skipped: order_cancelled", "skipped: order_cancelled"]
    assert {m.skip_reason for m in rows()} == {"order_cancelled"}


def test_a_cancellation_after_delivery_stops_the_follow_ups(api: Any, mailbox: Any, frozen: datetime) -> None:
    deliver(api)
    send_due()
    order_event(api, "1001", "cancelled")
    send_due(frozen + timedelta(days=8))
    assert [(m.step, m.skip_reason) for m in rows(status="skipped") if m.step in AFTER_DELIVERY_STEPS] == [
        ("post_delivery_followup", "order_cancelled"),
        ("survey_invitation", "order_cancelled"),
    ]


def test_another_area_can_veto_the_follow_ups(api: Any, mailbox: Any, frozen: datetime) -> None:
    """How the returns area plugs in: after a full return it answers "returned" for after-delivery steps."""

    def fully_returned(message: Message, *, order: Any, step: Any) -> str | None:
        return "returned" if message.step in AFTER_DELIVERY_STEPS else None

    deliver(api)
    with signals.message_due.connected_to(fully_returned):
        send_due(frozen + timedelta(days=8))
    assert subjects(mailbox.wait_for(2)) == [
        "Your order 1001 is confirmed",
        "Your parcel for order 1001 has been delivered",
    ]
    assert {(m.step, m.skip_reason) for m in rows(status="skipped")} == {
        ("shipped", "superseded"),
        ("post_delivery_followup", "returned"),
        ("survey_invitation", "returned"),
    }


def test_a_parcel_sent_back_gets_no_follow_up(api: Any, mailbox: Any, frozen: datetime) -> None:
    tracking_number = deliver(api)
    clock.advance(timedelta(hours=1))
    track(api, tracking_number, "returned_to_sender")
    send_due(frozen + timedelta(days=8))
    assert {m.skip_reason for m in rows(status="skipped")} == {"not_delivered"}


def test_stale_events_send_nothing(api: Any, mailbox: Any, frozen: datetime) -> None:
    place_order(api)
    tracking_number = ship(api)
    track(api, tracking_number, "out_for_delivery", frozen - timedelta(hours=37))  # reported late
    send_due()
    assert row("1001", "out_for_delivery").skip_reason == "stale"
    assert row("1001", "shipped").status == "sent"


def test_an_unsubscribed_customer_gets_only_transactional_messages(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    user = make_shopper()
    deliver(api)
    send_due(frozen + timedelta(days=2))
    follow_up = mailbox.wait_for(3)[-1]  # after the confirmation and the delivery
    assert follow_up["Subject"] == "How is your order 1001?"
    # The mail client's one-click unsubscribe: a POST without cookies or CSRF token (RFC 8058).
    url = follow_up["List-Unsubscribe"].strip().strip("<>").removeprefix("http://portal.test")
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    db.session.expire_all()
    stored = db.session.get(User, user.id)
    assert stored is not None
    assert stored.channel_preferences["followups"]["email"] is False
    assert stored.channel_preferences["updates"]["email"] is True
    assert stored.marketing_consent is False

    mailbox.messages.clear()
    place_order(api, "1002")
    send_due(frozen + timedelta(days=7))
    assert subjects(mailbox.wait_for(1)) == ["Your order 1002 is confirmed"]
    assert row("1001", "survey_invitation").skip_reason == "preferences"


def test_a_guest_who_unsubscribed_gets_no_follow_ups(api: Any, client: Any, frozen: datetime) -> None:
    deliver(api)
    send_due()
    follow_up = row("1001", "post_delivery_followup")
    from portal.messaging.rendering import unsubscribe_url
    from portal.messaging.service import recipient_of

    url = unsubscribe_url(recipient_of(follow_up.order)).removeprefix("http://portal.test")
    assert client.post(url).status_code == 200
    assert client.post(url).status_code == 200  # twice is fine
    send_due(frozen + timedelta(days=8))
    assert {(m.step, m.skip_reason) for m in rows(status="skipped")} == {
        ("shipped", "superseded"),
        ("post_delivery_followup", "unsubscribed"),
        ("survey_invitation", "unsubscribed"),
    }


def test_an_sms_late_in_the_evening_waits_for_the_morning(api: Any, mailbox: Any) -> None:
    with clock.freeze(LATE_EVENING):
        make_shopper(phone="+4915112345678", sms=True, timezone="Europe/Berlin")
        place_order(api)
        tracking_number = ship(api)
        track(api, tracking_number, "out_for_delivery")
        sms = row("1001", "out_for_delivery", "sms")
        assert send(sms) == f"deferred to {NEXT_MORNING_BERLIN.isoformat()}"
        sms = row("1001", "out_for_delivery", "sms")
        assert (sms.status, sms.due_at, sms.attempts) == ("scheduled", NEXT_MORNING_BERLIN, 0)
        assert row("1001", "out_for_delivery").status == "scheduled"  # e-mail knows no quiet hours
        assert send(row("1001", "out_for_delivery")) == "sent"
        clock.advance(NEXT_MORNING_BERLIN - LATE_EVENING - timedelta(minutes=1))
        assert send(sms) == "not claimed"
        clock.advance(timedelta(minutes=1))
        assert send(sms) == "sent"
    sms = row("1001", "out_for_delivery", "sms")
    assert sms.sent_at == NEXT_MORNING_BERLIN
    assert sms.provider_id == f"log:message-{sms.id}.{int(LATE_EVENING.timestamp())}"
    assert sms.body is not None and "out for delivery" in sms.body and "Reply STOP" in sms.body


def test_the_daily_cap_holds_back_a_second_follow_up(api: Any, mailbox: Any, frozen: datetime) -> None:
    deliver(api, "1001")
    deliver(api, "1002")
    due = frozen + timedelta(days=2)
    assert sorted(send_due(due)[-2:]) == ["deferred to " + (due + timedelta(days=1)).isoformat(), "sent"]
    assert send_due(due + timedelta(days=1)) == ["sent"]


def test_an_smtp_failure_is_retried_and_the_mail_sent_once(
    app: Any, api: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    place_order(api)
    confirmation = row("1001", "order_confirmation")
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
        assert send(confirmation) == "retry"
    confirmation = row("1001", "order_confirmation")
    assert confirmation.status == "scheduled" and confirmation.attempts == 1
    assert confirmation.due_at == frozen + timedelta(seconds=60)
    assert confirmation.last_error is not None and "SMTP" in confirmation.last_error
    assert send_due() == []  # not before the backoff
    clock.advance(timedelta(seconds=60))
    assert send_due() == ["sent"]
    assert len(mailbox.wait_for(1)) == 1
    confirmation = row("1001", "order_confirmation")
    assert (confirmation.status, confirmation.attempts, confirmation.last_error) == ("sent", 2, None)


class CountingSmtp:
    """An SMTP sink that counts the connections (greetings) and the e-mails it receives."""

    def __init__(self) -> None:
        self.greetings = 0
        self.received: list[str] = []

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: Any
    ) -> Any:
        self.greetings += 1
        session.host_name = hostname
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(envelope.rcpt_tos[0])
        return "250 OK"


@pytest.fixture
def counting_smtp(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingSmtp]:
    from aiosmtpd.controller import Controller

    sink = CountingSmtp()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    monkeypatch.setitem(app.config, "MAIL_PORT", controller.port)
    yield sink
    controller.stop()


def place_orders(api: Any, numbers: list[str]) -> list[int]:
    for number in numbers:
        place_order(api, number, email=f"customer-{number}@example.com")
    return [row(number, "order_confirmation").id for number in numbers]


def test_a_batch_of_messages_shares_one_smtp_connection(
    api: Any, counting_smtp: CountingSmtp, frozen: datetime
) -> None:
    ids = place_orders(api, ["1001", "1002", "1003"])
    assert tasks.send_messages(ids) == ["sent", "sent", "sent"]
    assert counting_smtp.received == [f"customer-{number}@example.com" for number in ("1001", "1002", "1003")]
    assert counting_smtp.greetings == 1
    assert tasks.send_messages(ids) == ["not claimed"] * 3  # run twice, sent once


def test_a_batch_stops_at_its_first_failed_send_and_leaves_the_rest_due(
    app: Any, api: Any, counting_smtp: CountingSmtp, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = place_orders(api, ["1001", "1002", "1003"])
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "MAIL_PORT", free_port())  # nothing listens there
        assert tasks.send_messages(ids) == ["retry"]
    assert [(m.status, m.attempts) for m in (rows("1001") + rows("1002") + rows("1003"))] == [
        ("scheduled", 1),
        ("scheduled", 0),
        ("scheduled", 0),
    ]
    assert tasks.send_messages(ids) == ["not claimed", "sent", "sent"]  # the first waits for its backoff
    clock.advance(timedelta(seconds=60))
    assert tasks.send_messages(ids) == ["sent", "not claimed", "not claimed"]
    assert sorted(counting_smtp.received) == [
        f"customer-{number}@example.com" for number in ("1001", "1002", "1003")
    ]


def test_a_batch_claims_no_more_messages_after_its_time(
    api: Any, counting_smtp: CountingSmtp, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = place_orders(api, ["1001", "1002"])
    monkeypatch.setattr(tasks, "JOB_SECONDS", 0)  # a slow SMTP server used the job's time up
    assert tasks.send_messages(ids) == ["sent"]
    assert [m.status for m in rows("1001") + rows("1002")] == ["sent", "scheduled"]


def test_a_message_fails_after_the_last_attempt(
    app: Any, api: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MAIL_PORT", free_port())
    monkeypatch.setitem(app.config, "MESSAGE_MAX_ATTEMPTS", 3)
    place_order(api)
    outcomes = []
    for _ in range(4):
        outcomes += send_due()
        clock.advance(timedelta(hours=1))
    assert outcomes == ["retry", "retry", "failed"]
    assert row("1001", "order_confirmation").status == "failed"


def test_the_sweeper_hands_back_a_send_whose_worker_died(
    app: Any, api: Any, mailbox: Any, frozen: datetime
) -> None:
    place_order(api)
    confirmation = row("1001", "order_confirmation")
    db.session.execute(
        update(Message)
        .where(Message.id == confirmation.id)
        .values(status="sending", claimed_at=frozen, attempts=1)
    )
    db.session.commit()
    assert tasks.sweep_abandoned_sends() == 0  # still within the lease
    clock.advance(timedelta(seconds=app.config["MESSAGE_SEND_LEASE_SECONDS"] + 1))
    assert tasks.sweep_abandoned_sends() == 1
    assert send_due() == ["sent"]
    assert row("1001", "order_confirmation").attempts == 2


def test_news_of_the_journey_is_dropped_once_the_parcel_has_arrived(api: Any) -> None:
    with clock.freeze(LATE_EVENING):
        make_shopper(phone="+4915112345678", sms=True, timezone="Europe/Berlin")
        place_order(api)
        tracking_number = ship(api)
        track(api, tracking_number, "out_for_delivery")
        assert send(row("1001", "out_for_delivery", "sms")).startswith("deferred")
        clock.advance(timedelta(hours=1))
        track(api, tracking_number, "delivered")
        clock.advance(NEXT_MORNING_BERLIN - clock.now())
        assert send(row("1001", "out_for_delivery", "sms")) == "skipped: superseded"
        assert send(row("1001", "delivered", "sms")) == "sent"


def _send_in_thread(app: Any, message_id: int, until: str, barrier: Any, results: list[str]) -> None:
    with app.app_context():
        try:
            barrier.wait(timeout=10)
            results.append(tasks.send_message(message_id, until))
        finally:
            db.session.remove()


@pytest.mark.parametrize("attempt", range(2))
def test_two_workers_sending_to_one_customer_at_once_respect_the_daily_cap(
    app: Any, api: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch, attempt: int
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs the guards without a per-customer lock (see portal.db.lock_keys)")
    deliver(api, "1001")
    deliver(api, "1002")
    due = frozen + timedelta(days=2)
    send_due(frozen + timedelta(days=1))  # everything before the two follow-ups
    follow_ups = [m.id for n in ("1001", "1002") for m in rows(n, step="post_delivery_followup")]
    assert len(follow_ups) == 2
    original = channels.send_email

    def slow_send(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # wide open: the other worker reads the cap while this send is under way
        return original(*args, **kwargs)

    monkeypatch.setattr(channels, "send_email", slow_send)
    db.session.remove()
    barrier = threading.Barrier(2)
    results: list[str] = []
    threads = [
        threading.Thread(target=_send_in_thread, args=(app, message_id, iso(due), barrier, results))
        for message_id in follow_ups
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["deferred to " + (due + timedelta(days=1)).isoformat(), "sent"]
