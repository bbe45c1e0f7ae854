"""`flask portal seed --demo`: the demo shop, built through the services, idempotent and deterministic."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from portal import clock, demo
from portal.accounts.models import User
from portal.accounts.service import verify_password
from portal.audit import AuditEntry
from portal.extensions import db
from portal.orders.models import (
    ORDER_STATUSES,
    TRACKING_STATUSES,
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentItem,
    TrackingEvent,
)

IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SEED_ARGS = ["portal", "seed", "--demo"]
# A Tuesday afternoon, so the checks do not depend on when the suite runs.
NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def seed(runner: Any) -> str:
    result = runner.invoke(args=SEED_ARGS)
    assert result.exit_code == 0, result.output
    return str(result.output)


def count(model: Any) -> int:
    return int(db.session.scalar(select(func.count()).select_from(model)) or 0)


def row_counts() -> dict[str, int]:
    models = (User, Order, OrderItem, OrderEvent, Shipment, ShipmentItem, TrackingEvent, AuditEntry)
    return {model.__name__: count(model) for model in models}


def snapshot() -> list[tuple[Any, ...]]:
    """Everything the demo decides, in a comparable form."""
    orders = db.session.scalars(select(Order).order_by(Order.number)).all()
    rows: list[tuple[Any, ...]] = []
    for order in orders:
        rows.append(
            (order.number, order.email, order.status, order.placed_at, order.total, order.customer_id)
        )
        rows.extend((item.sku, item.quantity, item.unit_price, item.returnable) for item in order.items)
        rows.extend((event.type, event.occurred_at) for event in order.events)
        for shipment in order.shipments:
            rows.append(
                (
                    shipment.tracking_number,
                    shipment.status,
                    shipment.shipped_at,
                    shipment.delivered_at,
                    shipment.promised_earliest,
                    shipment.promised_latest,
                )
            )
            rows.extend(
                (event.event_id, event.status, event.occurred_at, event.city) for event in shipment.events
            )
    return rows


def test_seed_prints_the_demo_logins_and_the_guest_lookup(runner: Any) -> None:
    with clock.freeze(NOW):
        output = seed(runner)
    for email, password in demo.DEMO_USERS.values():
        assert email in output
        assert password in output
    number, email = demo.DEMO_GUEST
    assert number in output
    assert email in output
    assert f"{len(demo.PLAN)} orders" in output

    for role, (email, password) in demo.DEMO_USERS.items():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        assert user.role == role
        assert user.email_verified_at is not None
        assert verify_password(user.password_hash, password)
        assert len(password) >= 12
        assert email.endswith("@example.com")


def test_seed_builds_orders_in_every_state(runner: Any) -> None:
    with clock.freeze(NOW):
        seed(runner)

    assert count(Order) >= 45
    statuses = set(db.session.scalars(select(Order.status).distinct()))
    assert statuses == set(ORDER_STATUSES)
    shipment_statuses = set(db.session.scalars(select(Shipment.status).distinct()))
    assert shipment_statuses == set(TRACKING_STATUSES)
    assert all(order.email.endswith("@example.com") for order in db.session.scalars(select(Order)))

    # Orders that never shipped still have their own states; cancelled orders have no parcels.
    for order in db.session.scalars(select(Order)):
        if order.shipments:
            assert order.status == "fulfilled"
        assert order.status != "cancelled" or not order.shipments

    non_returnable = db.session.scalars(select(OrderItem.sku).where(OrderItem.returnable.is_(False))).all()
    assert non_returnable
    assert len(set(db.session.scalars(select(OrderItem.sku)))) >= 15
    assert set(db.session.scalars(select(Shipment.carrier).distinct())) == {"DHL", "DPD", "UPS", "Hermes"}


def test_split_orders_send_different_items_in_each_parcel(runner: Any) -> None:
    with clock.freeze(NOW):
        seed(runner)

    split = [order for order in db.session.scalars(select(Order)) if len(order.shipments) >= 2]
    assert len(split) >= 3
    for order in split:
        carried = [{line.order_item_id for line in shipment.items} for shipment in order.shipments]
        assert all(carried)
        assert not set.intersection(*carried)
        shipped = Counter[int]()
        for shipment in order.shipments:
            shipped.update({line.order_item_id: line.quantity for line in shipment.items})
        assert shipped == {item.id: item.quantity for item in order.items}


def test_the_demo_guest_order_is_a_guest_order_in_transit(runner: Any) -> None:
    with clock.freeze(NOW):
        seed(runner)

    number, email = demo.DEMO_GUEST
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None
    assert order.email == email
    assert order.customer_id is None
    assert order.shipments
    assert {shipment.status for shipment in order.shipments} <= {"in_transit", "out_for_delivery"}
    assert db.session.scalar(select(User).where(User.email == email)) is None


def test_the_demo_shopper_owns_some_orders(runner: Any) -> None:
    with clock.freeze(NOW):
        seed(runner)

    shopper = db.session.scalar(select(User).where(User.email == demo.DEMO_USERS["shopper"][0]))
    assert shopper is not None
    owned = db.session.scalars(select(Order).where(Order.customer_id == shopper.id)).all()
    assert len(owned) >= 3
    assert all(order.email == shopper.email for order in owned)
    assert len({order.status for order in owned}) >= 2
    guests = count(select(Order).where(Order.customer_id.is_(None)).subquery())
    assert guests > len(owned)  # most orders are guest orders
    staff = db.session.scalars(select(User.id).where(User.role != "shopper")).all()
    assert not db.session.scalars(select(Order).where(Order.customer_id.in_(staff))).all()


def test_times_are_relative_to_the_clock_and_histories_are_realistic(runner: Any) -> None:
    with clock.freeze(NOW):
        seed(runner)

    placed = db.session.scalars(select(Order.placed_at)).all()
    assert max(placed) <= NOW
    assert max(placed) >= NOW - timedelta(days=1)  # fresh orders exist
    assert min(placed) >= NOW - timedelta(days=90)
    assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in placed)

    for shipment in db.session.scalars(select(Shipment)):
        events = shipment.events
        assert IDENTIFIER.match(shipment.tracking_number)
        assert shipment.service
        assert shipment.promised_earliest is not None
        assert shipment.promised_latest is not None
        assert shipment.promised_earliest < shipment.promised_latest
        assert shipment.shipped_at is not None
        assert shipment.shipped_at >= shipment.order.placed_at
        assert 1 <= len(events) <= 12
        if shipment.status != "info_received":
            assert len(events) >= 3
        assert all(event.occurred_at <= NOW for event in events)
        assert all(event.event_id.startswith(f"demo-{shipment.tracking_number}-") for event in events)
        assert all(event.description and event.raw_status for event in events)
        located = [event for event in events if event.city]
        assert all(event.country and event.lat is not None and event.lon is not None for event in located)
        if shipment.status == "delivered":
            assert shipment.delivered_at is not None
    for order in db.session.scalars(select(Order)):
        assert IDENTIFIER.match(order.number)
        times = [event.occurred_at for event in order.events]
        assert times == sorted(times)
        assert times[0] == order.placed_at
        assert times[-1] <= NOW


def test_seeding_twice_changes_nothing(runner: Any) -> None:
    with clock.freeze(NOW):
        first_output = seed(runner)
    counts, rows = row_counts(), snapshot()
    assert counts["Order"] >= 45

    # A later run (say `make run` the next day) reproduces the same instants instead of moving the orders.
    with clock.freeze(NOW + timedelta(days=2, hours=3)):
        second_output = seed(runner)
    assert row_counts() == counts
    assert snapshot() == rows
    assert "(new: 0 orders, 0 shipments, 0 events, 0 users)" in second_output
    assert first_output.splitlines()[1:] == second_output.splitlines()[1:]  # same logins and guest pair


def test_the_plan_is_deterministic() -> None:
    assert demo.build_plan() == demo.PLAN
    assert demo.build_plan(seed=7) != demo.PLAN
    numbers = [order.number for order in demo.PLAN]
    assert numbers == [f"DS-{1001 + index}" for index in range(len(numbers))]
    placed = [order.placed_ago for order in demo.PLAN]
    assert placed == sorted(placed, reverse=True)  # numbers follow the order of placement
    for carrier in demo.SCANS.values():
        assert set(carrier) == set(demo.STAGE_STATUS)
