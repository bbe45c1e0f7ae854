"""Orders as the pages show them: plain values in the viewer's language and time zone, no queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from urllib.parse import quote

from babel.dates import format_interval
from flask import current_app, url_for
from flask_babel import format_date, get_locale, get_timezone
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.orders.models import Order, OrderItem, Shipment, TrackingEvent
from portal.orders.service import shipped_quantities

# What an unusual status means for the customer and what happens next.
EXPLANATIONS: dict[str, LazyString] = {
    "failed_attempt": _l(
        "The carrier tried to deliver but could not. They usually try again on the next working day, "
        "or leave a card saying where to collect the parcel."
    ),
    "available_for_pickup": _l(
        "Your parcel is waiting at a pickup point. Bring an ID and the tracking number; parcels are usually "
        "kept for 7 days before they come back to us."
    ),
    "exception": _l(
        "Something is holding the parcel up (for example a damaged label or a problem with the address). "
        "The carrier is working on it, and we will let you know as soon as it moves again."
    ),
    "returned_to_sender": _l(
        "The parcel is on its way back to us. Once it arrives we will contact you about a new delivery or "
        "a refund."
    ),
}

FINAL_STATUSES = ("delivered", "returned_to_sender")

# How sure our own predicted window is (from the number of parcels of the lane it came from).
CONFIDENCE_WORDS: dict[str, LazyString] = {
    "high": _l("fairly sure"),
    "medium": _l("a good guess"),
    "low": _l("a rough guess"),
}

RISK_NOTICES: dict[str, LazyString] = {
    "stalled": _l(
        "This parcel has not moved for longer than usual. We have noticed and are checking with the carrier; "
        "we will let you know as soon as it moves."
    ),
    "late": _l(
        "This parcel is running later than promised. It is still on its way, and we are keeping an eye on it."
    ),
}


@dataclass(frozen=True)
class ItemView:
    sku: str
    name: str
    variant: str | None
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    image_url: str | None


@dataclass(frozen=True)
class ParcelView:
    position: int
    tracking_number: str
    anchor: str
    carrier: str
    service: str | None
    carrier_url: str | None
    status: str | None
    is_live: bool
    delivered_at: datetime | None
    promised_window: str | None
    explanation: LazyString | None
    events: list[TrackingEvent]
    items: list[tuple[str, str | None, int]]
    card_url: str
    # Our own window from the shop's past deliveries (portal.orders.predictions), and how sure it is.
    predicted_window: str | None = None
    confidence: LazyString | None = None
    risk_notice: LazyString | None = None


@dataclass(frozen=True)
class OrderView:
    number: str
    placed_at: datetime
    status: str
    headline: LazyString | str | None
    currency: str
    total: Decimal
    items: list[ItemView]
    address_lines: list[str]
    parcels: list[ParcelView]
    unshipped: list[tuple[str, str | None, int]] = field(default_factory=list)
    guest: bool = False
    belongs_to_account: bool = False


@dataclass(frozen=True)
class OrderSummary:
    number: str
    placed_at: datetime
    currency: str
    total: Decimal
    item_count: int
    chip: str | None
    headline: LazyString | str | None
    next_step: str | None


def describe_window(earliest: datetime | None, latest: datetime | None) -> str | None:
    """A delivery window in words in the viewer's language and zone, e.g. "Wed, Oct 14 – Fri, Oct 16"."""
    if earliest is None or latest is None:
        return None
    zone = get_timezone()
    start, end = earliest.astimezone(zone).date(), latest.astimezone(zone).date()
    return str(format_interval(start, end, "MMMEd", locale=get_locale()))


def carrier_url(carrier: str, tracking_number: str) -> str | None:
    template = current_app.config["CARRIER_TRACKING_URLS"].get(carrier.strip().lower())
    return template.format(tracking_number=quote(tracking_number)) if template else None


def _headline(order: Order) -> tuple[str | None, LazyString | str | None]:
    """(chip status, words) for the whole order; no words where the chip says it all."""
    if order.status == "cancelled":
        return None, _l("Cancelled")
    statuses = [s.status for s in order.shipments]
    if not statuses:
        return None, {
            "placed": _l("Order received"),
            "paid": _l("Payment confirmed, being prepared"),
            "fulfilled": _l("Packed, waiting for the carrier"),
        }.get(order.status, _l("Order received"))
    open_statuses = [s for s in statuses if s not in FINAL_STATUSES]
    if not open_statuses and all(s == "delivered" for s in statuses):
        return "delivered", None
    # The parcel furthest from the customer decides what the order as a whole is waiting for.
    order_of_progress = [
        "info_received",
        "in_transit",
        "exception",
        "failed_attempt",
        "available_for_pickup",
        "out_for_delivery",
        "returned_to_sender",
        "delivered",
    ]
    worst = min((s or "info_received" for s in statuses), key=order_of_progress.index)
    if len(statuses) > 1:
        delivered = statuses.count("delivered")
        return worst, _l(
            "%(delivered)s of %(total)s parcels delivered", delivered=delivered, total=len(statuses)
        )
    return worst, None


def _item_lines(shipment: Shipment, items_by_id: dict[int, OrderItem]) -> list[tuple[str, str | None, int]]:
    return [
        (items_by_id[line.order_item_id].name, items_by_id[line.order_item_id].variant, line.quantity)
        for line in shipment.items
        if line.order_item_id in items_by_id
    ]


def _mask(text: str) -> str:
    """Keep enough to recognise ("Haup… 1"), hide the rest from someone who only knows number + e-mail."""
    visible = max(2, len(text) // 4)
    return text[:visible] + "…"


def _address_lines(order: Order, guest: bool) -> list[str]:
    if guest:
        return [
            _mask(order.ship_name),
            _mask(order.ship_line1),
            f"{order.ship_postal_code[:2]}… {order.ship_city}",
            order.ship_country,
        ]
    lines = [order.ship_name, order.ship_line1]
    if order.ship_line2:
        lines.append(order.ship_line2)
    lines.append(f"{order.ship_postal_code} {order.ship_city}")
    if order.ship_region:
        lines.append(order.ship_region)
    lines.append(order.ship_country)
    return lines


def _risk_notice(shipment: Shipment, is_live: bool) -> LazyString | None:
    """The at-risk notice from the stored evaluation; a stall is over as soon as a newer event arrived."""
    risk = getattr(shipment, "risk", None)
    if risk is None or not is_live:
        return None
    if risk.stalled and shipment.last_event_at == risk.last_event_at:
        return RISK_NOTICES["stalled"]
    if risk.late:
        return RISK_NOTICES["late"]
    return None


def present_parcel(
    order: Order, shipment: Shipment, position: int, items_by_id: dict[int, OrderItem]
) -> ParcelView:
    status = shipment.status
    is_live = status not in FINAL_STATUSES and order.status != "cancelled"
    risk = getattr(shipment, "risk", None)
    predicted = describe_window(shipment.predicted_earliest, shipment.predicted_latest) if is_live else None
    return ParcelView(
        position=position,
        tracking_number=shipment.tracking_number,
        anchor=f"parcel-{shipment.tracking_number}",
        carrier=shipment.carrier,
        service=shipment.service,
        carrier_url=carrier_url(shipment.carrier, shipment.tracking_number),
        status=status,
        is_live=is_live,
        delivered_at=shipment.delivered_at,
        promised_window=describe_window(shipment.promised_earliest, shipment.promised_latest),
        explanation=EXPLANATIONS.get(status or ""),
        events=sorted(shipment.events, key=lambda e: (e.occurred_at, e.id), reverse=True),
        items=_item_lines(shipment, items_by_id),
        card_url=url_for(
            "orders.shipment_card", number=order.number, tracking_number=shipment.tracking_number
        ),
        predicted_window=predicted,
        confidence=CONFIDENCE_WORDS.get(risk.confidence or "") if predicted and risk is not None else None,
        risk_notice=_risk_notice(shipment, is_live),
    )


def present_order(order: Order, guest: bool) -> OrderView:
    items_by_id = {item.id: item for item in order.items}
    shipped = shipped_quantities(order)
    unshipped = [
        (item.name, item.variant, item.quantity - shipped.get(item.id, 0))
        for item in order.items
        if item.quantity > shipped.get(item.id, 0)
    ]
    chip, headline = _headline(order)
    return OrderView(
        number=order.number,
        placed_at=order.placed_at,
        status=chip or order.status,
        headline=headline,
        currency=order.currency,
        total=order.total,
        items=[
            ItemView(
                item.sku,
                item.name,
                item.variant,
                item.quantity,
                item.unit_price,
                item.unit_price * item.quantity,
                item.image_url,
            )
            for item in order.items
        ],
        address_lines=_address_lines(order, guest),
        parcels=[
            present_parcel(order, shipment, position, items_by_id)
            for position, shipment in enumerate(order.shipments, start=1)
        ],
        unshipped=unshipped if order.status != "cancelled" else [],
        guest=guest,
        belongs_to_account=order.customer_id is not None,
    )


def _next_step(order: Order) -> str | None:
    if order.status == "cancelled":
        return None
    open_parcels = [s for s in order.shipments if s.status not in FINAL_STATUSES]
    if not order.shipments:
        return str(_l("We will e-mail you when it ships."))
    if not open_parcels:
        delivered = [s.delivered_at for s in order.shipments if s.delivered_at]
        if delivered:
            return str(_l("Delivered on %(date)s", date=format_date(max(delivered), "medium")))
        return None
    windows = [describe_window(s.promised_earliest, s.promised_latest) for s in open_parcels]
    window = next((w for w in windows if w), None)
    return str(_l("Expected %(window)s", window=window)) if window else None


def summarise_order(order: Order) -> OrderSummary:
    chip, headline = _headline(order)
    return OrderSummary(
        number=order.number,
        placed_at=order.placed_at,
        currency=order.currency,
        total=order.total,
        item_count=sum(item.quantity for item in order.items),
        chip=chip,
        headline=headline,
        next_step=_next_step(order),
    )
