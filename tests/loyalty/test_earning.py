"""Points for delivered lines (pending until the return window closes), bonuses, and fair clawback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from portal import clock
from portal.extensions import db
from portal.loyalty import service
from portal.loyalty.models import LedgerEntry
from portal.returns import signals as return_signals
from portal.surveys import signals as survey_signals
from tests.loyalty.conftest import (
    DELIVERED_AT,
    WINDOW_CLOSES,
    StandInReturn,
    balance,
    deliver,
    delivered_order,
    entries,
    item_id,
    make_shopper,
    place,
    ship,
    shipment,
)


def test_a_delivered_order_earns_pending_points_per_line(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    delivered_order(api)
    earned = entries(user.id)
    # 2 x 19.95 = 39.90 -> 39 points; 50.00 -> 50 points (Bronze: x 1); and the first-order bonus.
    assert [(e.kind, e.points, e.quantity) for e in earned] == [
        ("earn", 39, 2),
        ("bonus", 100, None),
        ("earn", 50, 1),
    ]
    assert all(e.available_from == WINDOW_CLOSES for e in earned)
    assert earned[0].order_item_id == item_id("1001", "TEE-BLK-M")
    assert earned[2].order_item_id == item_id("1001", "CAP-01")
    clock.advance(WINDOW_CLOSES - frozen - timedelta(seconds=1))
    assert (balance(user.id).available, balance(user.id).pending) == (0, 189)
    clock.advance(timedelta(seconds=1))
    assert (balance(user.id).available, balance(user.id).pending) == (189, 0)


def test_points_per_unit_and_rounding_follow_the_settings(app: Any, api: Any, frozen: datetime) -> None:
    user = make_shopper()
    app.config["LOYALTY_POINTS_PER_UNIT"] = 3
    try:
        delivered_order(api)
    finally:
        app.config["LOYALTY_POINTS_PER_UNIT"] = 1
    assert [e.points for e in entries(user.id, "earn")] == [119, 150]  # 39.90 x 3 = 119.7 -> 119


def test_the_same_delivery_twice_awards_once(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    delivered_order(api)
    # The same carrier event again, another "delivered" scan, and a redelivery after a return to sender.
    deliver(api, "T1001")
    deliver(api, "T1001", "2026-10-13T13:00:00+00:00", event_id="second-scan")
    api.post(
        "/tracking-events",
        json={
            "event_id": "rts",
            "tracking_number": "T1001",
            "status": "returned_to_sender",
            "occurred_at": "2026-10-14T08:00:00Z",
        },
    )
    deliver(api, "T1001", "2026-10-16T08:00:00+00:00", event_id="redelivered")
    service.award_shipment_points(shipment("T1001"))
    db.session.commit()
    assert [(e.kind, e.points) for e in entries(user.id)] == [("earn", 39), ("bonus", 100), ("earn", 50)]


def test_guests_and_cancelled_orders_earn_nothing(api: Any, frozen: datetime) -> None:
    delivered_order(api)  # no account with this address
    assert db.session.query(LedgerEntry).count() == 0
    user = make_shopper("grace@example.com")
    order = place(api, "2001", email="grace@example.com")
    ship(api, "2001", "T2001", [{"sku": "TEE-BLK-M", "quantity": 2}])
    assert (
        api.post(
            "/orders/2001/events", json={"type": "cancelled", "occurred_at": "2026-10-11T08:00:00Z"}
        ).status_code
        == 201
    )
    deliver(api, "T2001")
    assert entries(user.id) == [] and order.customer_id == user.id


def test_only_the_first_delivered_order_brings_the_first_order_bonus(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    delivered_order(api, "1001")
    delivered_order(api, "1002")
    assert [e.points for e in entries(user.id, "bonus")] == [100]


def test_returning_one_line_takes_back_exactly_its_points(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    delivered_order(api)
    cap = item_id("1001", "CAP-01")
    return_signals.return_received.send(StandInReturn(7, "R-ABC"), lines=[(cap, 1)], occurred_at=frozen)
    db.session.commit()
    clawback = entries(user.id, "clawback")
    assert [(e.points, e.debt_points, e.order_item_id, e.reference) for e in clawback] == [
        (-50, 0, cap, "R-ABC")
    ]
    assert balance(user.id).pending == 139  # 39 for the T-shirts and the 100 bonus are untouched
    # The same return reported again changes nothing.
    return_signals.return_received.send(StandInReturn(7, "R-ABC"), lines=[(cap, 1)], occurred_at=frozen)
    db.session.commit()
    assert len(entries(user.id, "clawback")) == 1


def test_returning_units_one_at_a_time_adds_up_to_the_line(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    delivered_order(api)
    tee = item_id("1001", "TEE-BLK-M")
    return_signals.return_received.send(StandInReturn(1, "R-1"), lines=[(tee, 1)], occurred_at=frozen)
    return_signals.return_received.send(StandInReturn(2, "R-2"), lines=[(tee, 1)], occurred_at=frozen)
    # A third unit was never bought: nothing more to take back.
    return_signals.return_received.send(StandInReturn(3, "R-3"), lines=[(tee, 1)], occurred_at=frozen)
    db.session.commit()
    assert [e.points for e in entries(user.id, "clawback")] == [-19, -20]
    assert balance(user.id).pending == 150


def test_points_already_spent_become_a_debt_taken_from_the_next_award(
    app: Any, api: Any, frozen: datetime
) -> None:
    from portal.audit import Actor
    from portal.loyalty.spending import redeem_points

    user = make_shopper()
    delivered_order(api)
    clock.advance(WINDOW_CLOSES - frozen)
    app.config["LOYALTY_REDEMPTIONS"] = [{"points": 150, "value": "2"}]
    try:
        redeem_points(user.id, 150, Actor.user(user.id, "ada"))
        db.session.commit()
    finally:
        app.config["LOYALTY_REDEMPTIONS"] = [{"points": 500, "value": "5"}, {"points": 1000, "value": "12"}]
    assert balance(user.id).available == 39
    # The cap's 50 points were spent (oldest first: T-shirts 39, cap 50, bonus 61): 39 can be taken, 11 owed.
    return_signals.return_received.send(
        StandInReturn(9, "R-CAP"), lines=[(item_id("1001", "CAP-01"), 1)], occurred_at=clock.now()
    )
    db.session.commit()
    [clawback] = entries(user.id, "clawback")
    assert (clawback.points, clawback.debt_points) == (-39, 11)
    assert balance(user.id).available == 0
    # The next order's points pay the debt first.
    delivered_order(api, "1002", at="2026-11-13T10:00:00+00:00")
    recovered = [e for e in entries(user.id, "clawback") if e.source_key.startswith("debt:")]
    assert [(e.points, e.debt_points) for e in recovered] == [(-11, -11)]
    assert balance(user.id).pending == 39 + 50 - 11
    assert sum(e.debt_points for e in entries(user.id)) == 0


def test_the_survey_bonus_once_per_invitation_and_never_for_guests(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    order = delivered_order(api)
    response = object()
    for _ in range(2):
        survey_signals.survey_responded.send(
            response, invitation_id=5, order_id=order.id, customer_id=user.id
        )
    survey_signals.survey_responded.send(response, invitation_id=6, order_id=order.id, customer_id=None)
    db.session.commit()
    bonuses = [e for e in entries(user.id, "bonus") if e.source_key.startswith("survey:")]
    assert [(e.points, e.available_from) for e in bonuses] == [(50, frozen)]
    assert db.session.query(LedgerEntry).filter(LedgerEntry.source_key == "survey:6").count() == 0


def test_birthday_bonus_once_a_year_only_if_set_30_days_before(app: Any, frozen: datetime) -> None:
    user = make_shopper()
    other = make_shopper("late@example.com")
    with clock.freeze(datetime(2026, 1, 1, 9, 0, tzinfo=UTC)):
        service.set_birthday(user.id, datetime(1990, 3, 14).date())
        db.session.commit()
    with clock.freeze(datetime(2026, 3, 1, 9, 0, tzinfo=UTC)):
        service.set_birthday(other.id, datetime(1990, 3, 14).date())  # only 13 days' notice
        db.session.commit()
    for day in (13, 14, 15, 16):
        at = datetime(2026, 3, day, 6, 0, tzinfo=UTC)
        service.award_birthday_bonuses(at)
        db.session.commit()
    assert [(e.points, e.source_key) for e in entries(user.id, "bonus")] == [
        (200, f"birthday:{user.id}:2026")
    ]
    assert entries(other.id) == []
    service.award_birthday_bonuses(datetime(2027, 3, 15, 6, 0, tzinfo=UTC))
    db.session.commit()
    assert len(entries(user.id, "bonus")) == 2 and len(entries(other.id, "bonus")) == 1


def test_a_leap_day_birthday_is_celebrated_on_the_28th(frozen: datetime) -> None:
    assert service.birthday_in(2027, datetime(2000, 2, 29).date()) == datetime(2027, 2, 28).date()
    assert service.birthday_in(2028, datetime(2000, 2, 29).date()) == datetime(2028, 2, 29).date()


def test_delivery_time_not_arrival_of_the_scan_starts_the_window(api: Any, frozen: datetime) -> None:
    user = make_shopper()
    clock.advance(timedelta(days=5))  # the carrier reports the delivery days late
    delivered_order(api)
    assert {e.available_from for e in entries(user.id)} == {DELIVERED_AT + timedelta(days=30)}


def test_a_guest_who_registers_after_delivery_gets_the_orders_points(api: Any, frozen: datetime) -> None:
    from portal.accounts.service import claim_guest_orders
    from portal.loyalty import tasks

    delivered_order(api)  # as a guest
    user = make_shopper()  # registers (verified) with the order's address afterwards
    assert claim_guest_orders(user) == 1
    db.session.commit()
    assert tasks.award_claimed_orders() == 2  # both parcels
    assert tasks.award_claimed_orders() == 0
    db.session.commit()
    assert [(e.kind, e.points) for e in entries(user.id)] == [("earn", 39), ("bonus", 100), ("earn", 50)]
