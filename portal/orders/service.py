"""Domain operations on orders, shipments and tracking events. They flush; the caller commits once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from portal import audit, clock
from portal.accounts.models import User
from portal.accounts.service import normalise_email
from portal.audit import Actor
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.orders import signals
from portal.orders.models import (
    ORDER_PROGRESS,
    Order,
    OrderEvent,
    OrderItem,
    Shipment,
    ShipmentItem,
    TrackingEvent,
)


@dataclass(frozen=True)
class AddressData:
    name: str
    line1: str
    city: str
    postal_code: str
    country: str
    line2: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class ItemData:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    variant: str | None = None
    returnable: bool = True
    image_url: str | None = None


@dataclass(frozen=True)
class OrderData:
    email: str
    customer_name: str
    placed_at: datetime
    currency: str
    total: Decimal
    shipping_address: AddressData
    items: Sequence[ItemData]
    phone: str | None = None
    locale: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class ShipmentData:
    carrier: str
    items: Sequence[tuple[str, int]]  # (sku, quantity)
    service: str | None = None
    shipped_at: datetime | None = None
    promised_earliest: datetime | None = None
    promised_latest: datetime | None = None


@dataclass(frozen=True)
class TrackingEventData:
    event_id: str
    tracking_number: str
    status: str
    occurred_at: datetime
    description: str | None = None
    raw_status: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    lat: float | None = None
    lon: float | None = None


@dataclass
class IngestResult:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    known_tracking_numbers: set[str] = field(default_factory=set)


def get_order(number: str) -> Order:
    """The order with this number. Raises NotFound."""
    order = db.session.scalar(select(Order).where(Order.number == number))
    if order is None:
        raise NotFound(f"No order {number!r}.", code="order_not_found")
    return order


# --- orders -------------------------------------------------------------------------------------------------


def _order_snapshot(order: Order) -> dict[str, Any]:
    return {
        "status": order.status,
        "email": order.email,
        "total": str(Decimal(order.total).quantize(Decimal("0.001"))),
        "currency": order.currency,
        "items": {item.sku: item.quantity for item in order.items},
    }


def upsert_order(number: str, data: OrderData, actor: Actor) -> tuple[Order, bool]:
    """Create the order or bring it up to date with `data`; return (order, created).

    Status only moves forward (a resent older snapshot does not undo payment). Raises Conflict when the update
    would un-cancel the order or drop or shrink items already in a shipment.
    """
    order = db.session.scalar(
        select(Order).where(Order.number == number).options(selectinload(Order.items)).with_for_update()
    )
    created = order is None
    email = normalise_email(data.email)
    if order is None:
        order = Order(number=number, status="placed")
        db.session.add(order)
        before = None
    else:
        before = _order_snapshot(order)
        if order.status == "cancelled" and data.status not in (None, "cancelled"):
            raise Conflict(
                f"Order {number} is cancelled and cannot become {data.status}.", code="order_cancelled"
            )
    order.email = email
    order.customer_name = data.customer_name
    order.phone = data.phone
    order.locale = data.locale
    order.placed_at = data.placed_at
    order.currency = data.currency
    order.total = data.total
    address = data.shipping_address
    order.ship_name = address.name
    order.ship_line1 = address.line1
    order.ship_line2 = address.line2
    order.ship_city = address.city
    order.ship_postal_code = address.postal_code
    order.ship_region = address.region
    order.ship_country = address.country
    if order.customer_id is None:
        order.customer_id = db.session.scalar(
            select(User.id).where(User.email == email, User.email_verified_at.is_not(None))
        )
    _replace_items(order, data.items)
    db.session.flush()

    if created:
        _record_order_event(order, "placed", data.placed_at)
    if data.status in ("paid", "cancelled"):
        _record_order_event(order, data.status, data.placed_at if created else clock.now())
    after = _order_snapshot(order)
    if before != after:
        audit.record(actor, "order.created" if created else "order.updated", "order", number, before, after)
    return order, created


def _replace_items(order: Order, items: Sequence[ItemData]) -> None:
    skus = [item.sku for item in items]
    if len(set(skus)) != len(skus):
        duplicate = next(sku for sku in skus if skus.count(sku) > 1)
        raise Invalid(
            "Each SKU may appear once per order.", fields={"items": f"SKU {duplicate!r} appears twice."}
        )
    shipped = shipped_quantities(order) if order.id else {}
    existing = {item.sku: item for item in order.items}
    wanted = {item.sku for item in items}
    for sku, item in existing.items():
        if sku not in wanted and shipped.get(item.id, 0):
            raise Conflict(f"Item {sku} is already in a shipment and cannot be removed.", code="item_shipped")
        if sku not in wanted:
            order.items.remove(item)
    for position, data in enumerate(items):
        found = existing.get(data.sku)
        if found is None:
            item = OrderItem(sku=data.sku)
            order.items.append(item)
        else:
            item = found
            if data.quantity < shipped.get(item.id, 0):
                raise Conflict(
                    f"Item {data.sku} has {shipped[item.id]} already shipped; the quantity cannot go lower.",
                    code="item_shipped",
                )
        item.position = position
        item.name = data.name
        item.variant = data.variant
        item.quantity = data.quantity
        item.unit_price = data.unit_price
        item.returnable = data.returnable
        item.image_url = data.image_url


def shipped_quantities(order: Order, excluding_shipment: Shipment | None = None) -> dict[int, int]:
    """How many of each order item (by id) its shipments carry."""
    totals: dict[int, int] = {}
    for shipment in order.shipments:
        if shipment is excluding_shipment:
            continue
        for line in shipment.items:
            totals[line.order_item_id] = totals.get(line.order_item_id, 0) + line.quantity
    return totals


def record_order_event(
    number: str, event_type: str, occurred_at: datetime, actor: Actor
) -> tuple[Order, bool]:
    """Record that the order was paid, fulfilled or cancelled; return (order, newly recorded).

    The same event twice is recorded once. Raises NotFound, and Conflict for progress on a cancelled order.
    """
    order = db.session.scalar(select(Order).where(Order.number == number).with_for_update())
    if order is None:
        raise NotFound(f"No order {number!r}.", code="order_not_found")
    before = order.status
    recorded = _record_order_event(order, event_type, occurred_at)
    if recorded:
        audit.record(
            actor, f"order.{event_type}", "order", number, {"status": before}, {"status": order.status}
        )
    return order, recorded


def _record_order_event(order: Order, event_type: str, occurred_at: datetime) -> bool:
    existing = db.session.scalar(
        select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.type == event_type)
    )
    if existing is not None:
        return False
    if order.status == "cancelled" and event_type != "cancelled":
        raise Conflict(f"Order {order.number} is cancelled.", code="order_cancelled")
    db.session.add(OrderEvent(order_id=order.id, type=event_type, occurred_at=occurred_at))
    if event_type == "cancelled":
        order.status = "cancelled"
    elif event_type in ORDER_PROGRESS and ORDER_PROGRESS.index(event_type) > ORDER_PROGRESS.index(
        order.status
    ):
        order.status = event_type
    db.session.flush()
    signals.ORDER_EVENT_SIGNALS[event_type].send(order, occurred_at=occurred_at)
    return True


# --- shipments ----------------------------------------------------------------------------------------------


def upsert_shipment(
    number: str, tracking_number: str, data: ShipmentData, actor: Actor
) -> tuple[Shipment, bool]:
    """Create or update the shipment `tracking_number` of order `number`; return (shipment, created).

    Events that arrived before the shipment was known are attached now. Raises NotFound for the order,
    Conflict when the order is cancelled or the tracking number belongs to another order, and Invalid when an
    item is unknown or more would be shipped than was ordered.
    """
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number)
        .options(selectinload(Order.items), selectinload(Order.shipments).selectinload(Shipment.items))
        .with_for_update()
    )
    if order is None:
        raise NotFound(f"No order {number!r}.", code="order_not_found")
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == tracking_number))
    if shipment is not None and shipment.order_id != order.id:
        raise Conflict(
            f"Tracking number {tracking_number} belongs to another order.", code="tracking_number_taken"
        )
    if shipment is None and order.status == "cancelled":
        raise Conflict(f"Order {number} is cancelled.", code="order_cancelled")

    lines = _shipment_lines(order, data.items, shipment)
    created = shipment is None
    if shipment is None:
        shipment = Shipment(order=order, tracking_number=tracking_number)
        db.session.add(shipment)
        before = None
    else:
        before = _shipment_snapshot(shipment)
    shipment.carrier = data.carrier
    shipment.service = data.service
    shipment.shipped_at = data.shipped_at
    shipment.promised_earliest = data.promised_earliest
    shipment.promised_latest = data.promised_latest
    current = {line.order_item_id: line for line in shipment.items}
    for item_id, line in current.items():
        if item_id not in lines:
            shipment.items.remove(line)
    for item_id, quantity in lines.items():
        if item_id in current:
            current[item_id].quantity = quantity
        else:
            shipment.items.append(ShipmentItem(order_item_id=item_id, quantity=quantity))
    db.session.flush()

    if created:
        signals.shipment_created.send(shipment)
    _attach_unmatched_events(shipment)
    after = _shipment_snapshot(shipment)
    if before != after:
        audit.record(
            actor,
            "shipment.created" if created else "shipment.updated",
            "shipment",
            tracking_number,
            before,
            after,
        )
    return shipment, created


def _shipment_lines(
    order: Order, wanted: Sequence[tuple[str, int]], shipment: Shipment | None
) -> dict[int, int]:
    by_sku = {item.sku: item for item in order.items}
    shipped_elsewhere = shipped_quantities(order, excluding_shipment=shipment)
    lines: dict[int, int] = {}
    errors: dict[str, str] = {}
    for index, (sku, quantity) in enumerate(wanted):
        item = by_sku.get(sku)
        if item is None:
            errors[f"items[{index}].sku"] = f"The order has no item with SKU {sku!r}."
            continue
        if item.id in lines:
            errors[f"items[{index}].sku"] = f"SKU {sku!r} is listed twice."
            continue
        remaining = item.quantity - shipped_elsewhere.get(item.id, 0)
        if quantity > remaining:
            errors[f"items[{index}].quantity"] = (
                f"Only {remaining} of {sku!r} remain to be shipped (ordered {item.quantity})."
            )
            continue
        lines[item.id] = quantity
    if errors:
        raise Invalid("Some shipment items do not match the order.", fields=errors)
    return lines


def _shipment_snapshot(shipment: Shipment) -> dict[str, Any]:
    return {
        "carrier": shipment.carrier,
        "service": shipment.service,
        "items": {str(line.order_item_id): line.quantity for line in shipment.items},
        "promised": [_iso(shipment.promised_earliest), _iso(shipment.promised_latest)],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _attach_unmatched_events(shipment: Shipment) -> None:
    unmatched = db.session.scalars(
        select(TrackingEvent).where(
            TrackingEvent.tracking_number == shipment.tracking_number, TrackingEvent.shipment_id.is_(None)
        )
    ).all()
    if not unmatched:
        return
    for event in unmatched:
        event.shipment_id = shipment.id
    db.session.flush()
    _refresh_status(
        [shipment], new_events=[_NewEvent(e.id, e.shipment_id, e.status, e.occurred_at) for e in unmatched]
    )


# --- tracking events ----------------------------------------------------------------------------------------


def derive_status(
    events: Sequence[tuple[str, datetime]],
) -> tuple[str | None, datetime | None, datetime | None]:
    """(status, last event time, delivered at) from (status, occurred_at) pairs sorted oldest first.

    The status is that of the latest event by time, except that `delivered` stays final unless a
    `returned_to_sender` happened after it.
    """
    if not events:
        return None, None, None
    latest_status, latest_at = events[-1]
    delivered_at = next((at for status, at in reversed(events) if status == "delivered"), None)
    if delivered_at is None:
        return latest_status, latest_at, None
    if any(status == "returned_to_sender" and at > delivered_at for status, at in events):
        return "returned_to_sender", latest_at, None
    return "delivered", latest_at, delivered_at


def ingest_tracking_events(events: Sequence[TrackingEventData], actor: Actor) -> IngestResult:
    """Store carrier events once per event id and update the shipments they belong to.

    Events for unknown tracking numbers are kept unmatched until the shipment is created.
    """
    result = IngestResult()
    unique: dict[str, TrackingEventData] = {}
    for event in events:
        if event.event_id in unique:
            result.duplicates.append(event.event_id)
        else:
            unique[event.event_id] = event
    if not unique:
        return result

    shipments = {
        shipment.tracking_number: shipment
        for shipment in db.session.scalars(
            select(Shipment)
            .where(Shipment.tracking_number.in_({e.tracking_number for e in unique.values()}))
            .with_for_update()
        )
    }
    result.known_tracking_numbers = set(shipments)
    received_at = clock.now()
    rows = [
        {
            "event_id": e.event_id,
            "tracking_number": e.tracking_number,
            "shipment_id": shipments[e.tracking_number].id if e.tracking_number in shipments else None,
            "status": e.status,
            "occurred_at": e.occurred_at,
            "received_at": received_at,
            "description": e.description,
            "raw_status": e.raw_status,
            "city": e.city,
            "region": e.region,
            "country": e.country,
            "lat": e.lat,
            "lon": e.lon,
        }
        for e in unique.values()
    ]
    inserted = dict(_insert_ignoring_duplicates(rows))  # event id → row id
    for event_id, event in unique.items():
        if event_id not in inserted:
            result.duplicates.append(event_id)
        elif event.tracking_number in shipments:
            result.stored.append(event_id)
        else:
            result.stored.append(event_id)
            result.unmatched.append(event_id)

    if result.unmatched:
        signals.tracking_events_unmatched.send(None, events=[unique[i] for i in result.unmatched])
    new_events: dict[Shipment, list[_NewEvent]] = {}
    for event_id, row_id in inserted.items():
        event = unique[event_id]
        shipment = shipments.get(event.tracking_number)
        if shipment is not None:
            new_events.setdefault(shipment, []).append(
                _NewEvent(row_id, shipment.id, event.status, event.occurred_at)
            )
    touched = {shipment for shipment, new in new_events.items() if _may_change(shipment, new)}
    touched |= _adopt_orphans(shipments)
    if touched:
        _refresh_status(
            sorted(touched, key=lambda s: s.id), new_events=[e for new in new_events.values() for e in new]
        )
    return result


@dataclass(frozen=True)
class _NewEvent:
    """What `_refresh_status` needs of an event just stored (no ORM object is loaded for it)."""

    id: int
    shipment_id: int | None
    status: str
    occurred_at: datetime


def _may_change(shipment: Shipment, new: Sequence[_NewEvent]) -> bool:
    """Whether these new events can change the shipment's status, last event or delivery time.

    Events strictly older than the shipment's latest, none of them a delivery or a return to sender, leave all
    three as they are (see `derive_status`): a carrier resending its history costs no reading of the history.
    """
    latest = shipment.last_event_at
    if latest is None:
        return True
    return any(e.occurred_at >= latest or e.status in ("delivered", "returned_to_sender") for e in new)


def _adopt_orphans(shipments: dict[str, Shipment]) -> set[Shipment]:
    """Attach events stored unmatched for these shipments' tracking numbers; return the shipments touched.

    An event can be stored unmatched while the shipment that would match it is being created in a
    concurrent transaction; the next event (or the next PUT of the shipment) for that parcel adopts it.
    """
    if not shipments:
        return set()
    owner = (
        select(Shipment.id).where(Shipment.tracking_number == TrackingEvent.tracking_number).scalar_subquery()
    )
    adopted = db.session.scalars(
        update(TrackingEvent)
        .where(TrackingEvent.tracking_number.in_(shipments), TrackingEvent.shipment_id.is_(None))
        .values(shipment_id=owner)
        .returning(TrackingEvent.tracking_number)
        .execution_options(synchronize_session=False)
    ).all()
    return {shipments[number] for number in adopted}


def _insert_ignoring_duplicates(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING event_id, id: concurrent deliveries store an event once.

    One statement for any number of rows, compiled once per process and sent as an executemany (SQLAlchemy's
    "insertmanyvalues" packs the rows into few multi-row INSERTs), instead of a VALUES list of 13 parameters a
    row compiled afresh for every batch. Returns the (event id, row id) of the rows stored now.
    """
    statement = _insert_events_statement(db.session.get_bind().dialect.name)
    return [(event_id, row_id) for event_id, row_id in db.session.execute(statement, rows)]


@cache
def _insert_events_statement(dialect: str) -> Any:
    table = TrackingEvent.__table__
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.c.event_id, table.c.id)
    )


def _refresh_status(shipments: Iterable[Shipment], new_events: Sequence[_NewEvent]) -> None:
    """Recompute each shipment's status from all its events and announce changes."""
    shipments = list(shipments)
    history: dict[int, list[tuple[str, datetime, int]]] = {s.id: [] for s in shipments}
    for shipment_id, event_status, occurred_at, row_id in db.session.execute(
        select(TrackingEvent.shipment_id, TrackingEvent.status, TrackingEvent.occurred_at, TrackingEvent.id)
        .where(TrackingEvent.shipment_id.in_(history))
        .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
    ):
        if shipment_id is not None:
            history[shipment_id].append((event_status, occurred_at, row_id))
    new_by_shipment: dict[int, list[_NewEvent]] = {}
    for event in new_events:
        if event.shipment_id is not None:
            new_by_shipment.setdefault(event.shipment_id, []).append(event)
    for shipment in shipments:
        pairs = [(status, at) for status, at, _ in history[shipment.id]]
        status, last_event_at, delivered_at = derive_status(pairs)
        previous = shipment.status
        shipment.last_event_at = last_event_at
        shipment.delivered_at = delivered_at
        if status != previous:
            shipment.status = status
            db.session.flush()
            latest = max(
                new_by_shipment.get(shipment.id, []), key=lambda e: (e.occurred_at, e.id), default=None
            )
            # Receivers get the event itself, loaded only for a shipment whose status changed.
            cause = db.session.get(TrackingEvent, latest.id) if latest is not None else None
            signals.shipment_status_changed.send(shipment, previous=previous, status=status, event=cause)
    db.session.flush()
