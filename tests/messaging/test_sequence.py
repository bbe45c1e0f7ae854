"""The outbox: which messages the orders area's events write, when they are due, each written once."""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask

from portal import clock
from portal.extensions import db
from portal.messaging import tasks
from portal.messaging.service import schedule_message
from portal.messaging.tasks import dispatch_due_messages
from portal.orders import signals as order_signals
from portal.queue import get_queue
from tests.messaging.conftest import make_shopper, order_event, place_order, row, rows, ship, track


def steps(number: str = "1001") -> list[tuple[str, str]]:
    return [(message.step, message.channel) for message in rows(number)]


def test_placing_an_order_schedules_its_confirmation_once(api: Any, frozen: datetime) -> None:
    place_order(api)
    place_order(api)  # the shop sends the same order again
    confirmation = row("1001", "order_confirmation")
    assert confirmation.status == "scheduled"
    assert confirmation.due_at == frozen
    assert confirmation.recipient == "ada@example.com"
    assert confirmation.locale == "en"
    assert steps() == [("order_confirmation", "email")]
    # Nothing is queued by the web request; the dispatcher queues the due row under an id derived from it.
    assert get_queue("messages").job_ids == []
    assert dispatch_due_messages() == 1
    assert dispatch_due_messages() == 0  # already waiting
    assert get_queue("messages").job_ids == [f"message-{confirmation.id}-0"]


def test_the_order_and_parcel_steps(api: Any, frozen: datetime) -> None:
    place_order(api)
    order_event(api, "1001", "paid")
    order_event(api, "1001", "fulfilled")
    tracking_number = ship(api)
    track(api, tracking_number, "in_transit", frozen - timedelta(minutes=5))
    track(api, tracking_number, "exception", frozen - timedelta(minutes=4))
    track(api, tracking_number, "in_transit", frozen - timedelta(minutes=3))  # not a second "in transit"
    track(api, tracking_number, "out_for_delivery", frozen - timedelta(minutes=2))
    assert steps() == [
        ("order_confirmation", "email"),
        ("payment_confirmed", "email"),
        ("order_fulfilled", "email"),
        ("shipped", "email"),
        ("in_transit", "email"),
        ("delivery_exception", "email"),
        ("out_for_delivery", "email"),
    ]
    in_transit = row("1001", "in_transit")
    assert in_transit.shipment is not None and in_transit.shipment.tracking_number == tracking_number
    assert in_transit.event_at == frozen - timedelta(minutes=5)


def test_sms_is_written_only_for_a_customer_who_chose_it_and_has_a_number(api: Any, frozen: datetime) -> None:
    make_shopper(phone="+4915112345678", sms=True)
    place_order(api)
    ship(api)
    make_shopper("grace@example.com", phone="+4915187654321", sms=False)
    place_order(api, "1002", email="grace@example.com")
    ship(api, "1002")
    place_order(api, "1003", email="guest@example.com")  # guests have given no consent
    ship(api, "1003")
    assert steps("1001") == [("order_confirmation", "email"), ("shipped", "email"), ("shipped", "sms")]
    assert row("1001", "shipped", "sms").recipient == "+4915112345678"
    assert steps("1002") == [("order_confirmation", "email"), ("shipped", "email")]
    assert steps("1003") == [("order_confirmation", "email"), ("shipped", "email")]


def test_delivery_problems_are_told_once_per_parcel_and_day(app: Flask, api: Any, frozen: datetime) -> None:
    # A day is the recipient's (DEFAULT_TIMEZONE): start at its next noon, so the three problems three, two
    # and one hours back fall on one day whatever the time the test runs (it failed between 00:00 and 03:00).
    local_now = clock.now().astimezone(ZoneInfo(app.config["DEFAULT_TIMEZONE"]))
    noon = local_now.replace(hour=12, minute=0) + timedelta(days=1 if local_now.hour >= 12 else 0)
    clock.advance(noon - local_now)
    frozen = clock.now()
    place_order(api)
    tracking_number = ship(api)
    track(api, tracking_number, "failed_attempt", frozen - timedelta(hours=3))
    track(api, tracking_number, "in_transit", frozen - timedelta(hours=2))
    track(api, tracking_number, "exception", frozen - timedelta(hours=1))  # the same day: nothing new
    assert len(rows(step="delivery_exception")) == 1
    clock.advance(timedelta(days=1))
    track(api, tracking_number, "in_transit", clock.now() - timedelta(minutes=2))
    track(api, tracking_number, "failed_attempt", clock.now() - timedelta(minutes=1))
    assert len(rows(step="delivery_exception")) == 2


def test_delivery_schedules_the_follow_up_and_the_survey(api: Any, frozen: datetime) -> None:
    place_order(api)
    tracking_number = ship(api)
    delivered_at = frozen - timedelta(hours=1)
    track(api, tracking_number, "delivered", delivered_at)
    assert row("1001", "delivered").due_at == frozen
    assert row("1001", "post_delivery_followup").due_at == delivered_at + timedelta(days=2)
    assert row("1001", "survey_invitation").due_at == delivered_at + timedelta(days=7)


def test_follow_ups_wait_until_every_parcel_has_arrived(api: Any, frozen: datetime) -> None:
    place_order(api)
    first = ship(api, tracking_number="T1", items=[{"sku": "TEE-BLK-M", "quantity": 2}])
    track(api, first, "delivered")
    assert rows(step="post_delivery_followup") == []  # the cap is not even shipped yet
    second = ship(api, tracking_number="T2", items=[{"sku": "CAP-01", "quantity": 1}])
    clock.advance(timedelta(days=1))
    track(api, second, "delivered")
    assert row("1001", "post_delivery_followup").due_at == clock.now() + timedelta(days=2)


def test_other_areas_schedule_their_confirmations(api: Any, frozen: datetime) -> None:
    order = place_order(api)
    tracking_number = ship(api)
    shipment = order.shipments[0]
    assert shipment.tracking_number == tracking_number
    first = schedule_message(
        order, "delivery_instructions_changed", shipment=shipment, key="v1", context={"summary": "Porch"}
    )
    again = schedule_message(order, "delivery_instructions_changed", shipment=shipment, key="v1")
    second = schedule_message(order, "delivery_instructions_changed", shipment=shipment, key="v2")
    db.session.commit()
    assert len(first) == 1 and again == [] and len(second) == 1
    assert [m.context for m in rows(step="delivery_instructions_changed")] == [{"summary": "Porch"}, None]
    with pytest.raises(ValueError, match="unknown message step"):
        schedule_message(order, "newsletter")


def test_changed_delivery_instructions_are_confirmed_once_per_version(api: Any, frozen: datetime) -> None:
    order = place_order(api)
    ship(api)
    shipment = order.shipments[0]
    for number in (1, 1, 2):
        order_signals.delivery_instructions_changed.send(shipment, version=SimpleNamespace(version=number))
    db.session.commit()
    assert [m.scope for m in rows(step="delivery_instructions_changed")] == [
        f"s{shipment.id}:v1",
        f"s{shipment.id}:v2",
    ]


def test_the_dispatcher_reads_due_messages_in_batches(
    app: Any, api: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "MESSAGE_DISPATCH_BATCH", 2)
    for number in range(1001, 1006):
        place_order(api, str(number))
    clock.advance(timedelta(seconds=1))
    place_order(api, "1006")  # due later than the limit below
    assert dispatch_due_messages((frozen + timedelta(milliseconds=500)).isoformat()) == 5
    queued = [message_id for job in get_queue("messages").jobs for message_id in job.args[0]]
    assert sorted(queued) == sorted(row(str(number), "order_confirmation").id for number in range(1001, 1006))


def test_due_messages_go_a_batch_to_a_job_and_are_queued_once_while_it_waits(
    api: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tasks, "MESSAGES_PER_JOB", 2)
    for number in range(1001, 1006):
        place_order(api, str(number), email=f"customer-{number}@example.com")
    ids = [row(str(number), "order_confirmation").id for number in range(1001, 1006)]
    assert dispatch_due_messages() == 5
    jobs = get_queue("messages").jobs
    assert [job.args for job in jobs] == [(ids[0:2], None), (ids[2:4], None), (ids[4:], None)]
    assert [job.id for job in jobs] == [
        f"messages-{ids[0]}-0-2",
        f"messages-{ids[2]}-0-2",
        f"message-{ids[4]}-0",
    ]
    assert dispatch_due_messages() == 0  # each message is held by a waiting job
    # A job that is gone (lost with Redis, or finished without sending them) holds its messages no longer.
    jobs[1].delete()
    assert dispatch_due_messages() == 2
    assert get_queue("messages").jobs[-1].args == (ids[2:4], None)
    assert dispatch_due_messages() == 0
