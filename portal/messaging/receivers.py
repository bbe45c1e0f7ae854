"""Reactions to the orders area's signals: each writes the step's messages in the sender's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _

from portal import clock
from portal.i18n import supported_locale
from portal.messaging.service import recipient_of, schedule_message
from portal.orders import signals as order_signals
from portal.orders.models import Order, Shipment, TrackingEvent
from portal.orders.service import shipped_quantities

# A shipment status and the step it starts. `in_transit` fires on the first in-transit scan only: the message
# is unique per shipment, so later in-transit scans (after an exception, say) find it written already.
_STATUS_STEPS = {
    "in_transit": "in_transit",
    "out_for_delivery": "out_for_delivery",
    "delivered": "delivered",
    "failed_attempt": "delivery_exception",
    "exception": "delivery_exception",
}


def order_placed(order: Order, occurred_at: datetime, **_: Any) -> None:
    schedule_message(order, "order_confirmation", event_at=occurred_at)


def order_paid(order: Order, occurred_at: datetime, **_: Any) -> None:
    schedule_message(order, "payment_confirmed", event_at=occurred_at)


def order_fulfilled(order: Order, occurred_at: datetime, **_: Any) -> None:
    schedule_message(order, "order_fulfilled", event_at=occurred_at)


def shipment_created(shipment: Shipment, **_: Any) -> None:
    event_at = shipment.shipped_at or clock.now()
    schedule_message(shipment.order, "shipped", shipment=shipment, event_at=event_at)


def shipment_status_changed(
    shipment: Shipment, status: str, event: TrackingEvent | None = None, **_: Any
) -> None:
    step = _STATUS_STEPS.get(status)
    if step is None:
        return
    event_at = event.occurred_at if event is not None else clock.now()
    order = shipment.order
    schedule_message(order, step, shipment=shipment, event_at=event_at)
    if status == "delivered" and _fully_delivered(order):
        delivered_at = max(s.delivered_at or event_at for s in order.shipments)
        schedule_message(order, "post_delivery_followup", event_at=delivered_at)
        schedule_message(order, "survey_invitation", event_at=delivered_at)


def delivery_instructions_changed(shipment: Shipment, version: Any, **_: Any) -> None:
    """Confirm each new version. The e-mail names no details: the version holds the access code, and the
    order page shows the instructions to whoever may see them."""
    schedule_message(
        shipment.order, "delivery_instructions_changed", shipment=shipment, key=f"v{version.version}"
    )


def shipment_at_risk(shipment: Shipment, stalled: bool, **kwargs: Any) -> None:
    """A parcel the predictions flag as stalled or late: one delivery_exception message saying what happens
    next. It shares the step's per-parcel daily slot, so a carrier exception the same day is not doubled."""
    with force_locale(supported_locale(recipient_of(shipment.order).locale)):
        if stalled:
            text = _(
                "Your parcel has not moved for longer than usual. We have noticed and are checking with the "
                "carrier; we will write again as soon as it moves. You do not need to do anything."
            )
        else:
            text = _(
                "Your parcel is running later than we promised. It is still on its way; we are keeping an "
                "eye on it and will let you know if anything changes. You do not need to do anything."
            )
    schedule_message(shipment.order, "delivery_exception", shipment=shipment, context={"explanation": text})


def _fully_delivered(order: Order) -> bool:
    """Every parcel delivered and nothing left to ship: the follow-ups are about the whole order."""
    if not all(s.status == "delivered" for s in order.shipments):
        return False
    shipped = shipped_quantities(order)
    return all(shipped.get(item.id, 0) >= item.quantity for item in order.items)


def connect() -> None:
    """Subscribe to the orders area (idempotent: blinker keeps one connection per receiver)."""
    order_signals.order_placed.connect(order_placed, weak=False)
    order_signals.order_paid.connect(order_paid, weak=False)
    order_signals.order_fulfilled.connect(order_fulfilled, weak=False)
    order_signals.shipment_created.connect(shipment_created, weak=False)
    order_signals.shipment_status_changed.connect(shipment_status_changed, weak=False)
    order_signals.delivery_instructions_changed.connect(delivery_instructions_changed, weak=False)
    order_signals.shipment_at_risk.connect(shipment_at_risk, weak=False)
