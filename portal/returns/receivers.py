"""The returns area's reactions to other areas' signals (and the messaging confirmation of its own).

- Carrier scans of a return parcel: a return's tracking number belongs to no shipment, so the orders area
  stores its events unmatched and announces them (`tracking_events_unmatched`); the first scan of a return
  parcel moves the return to in_transit. The events stay in tracking_events like any other scan.
- An approved return schedules the `return_confirmation` message (with the label link for account holders;
  a guest's e-mail carries the order link that signs them in, and the order page leads to the label).
- The message sequence asks before each follow-up or survey: once the whole order is returned, they are
  skipped ("returned").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.audit import Actor
from portal.extensions import db
from portal.messaging import signals as messaging_signals
from portal.messaging.sequence import AFTER_DELIVERY_STEPS
from portal.orders import signals as order_signals
from portal.orders.models import Order
from portal.returns import signals
from portal.returns.eligibility import fully_returned
from portal.returns.models import Return

# A return counts as "the order is returned" from approval on (and stays so once refunded or credited).
RETURNED_STATUSES = ("approved", "label_ready", "in_transit", "received", "refunded", "credited")
RETURNED_REASON = "returned"


def tracking_events_unmatched(sender: Any, events: list[Any], **_: Any) -> None:
    """Move returns whose parcel was scanned to in_transit (the earliest scan wins)."""
    scans = [event for event in events if event.status != "info_received"]
    if not scans:
        return
    found = db.session.scalars(
        select(Return).where(
            Return.tracking_number.in_({event.tracking_number for event in scans}),
            Return.status.in_(("approved", "label_ready")),
        )
    ).all()
    if not found:
        return
    from portal.returns.service import mark_in_transit

    carrier = Actor.system("carrier")
    for item in found:
        first = min(
            (e for e in scans if e.tracking_number == item.tracking_number), key=lambda e: e.occurred_at
        )
        place = ", ".join(part for part in (first.city, first.country) if part) or None
        mark_in_transit(item, carrier, occurred_at=first.occurred_at, note=place)


def return_approved(item: Return, **_: Any) -> None:
    from portal.messaging.service import schedule_message
    from portal.urls import external_url

    order = item.order
    context = {
        "rma": item.rma,
        "return_url": external_url("returns.detail", rma=item.rma),
        "label_url": external_url("returns.label_pdf", rma=item.rma)
        if order.customer_id is not None
        else None,
    }
    schedule_message(order, "return_confirmation", key=item.rma, context=context)


def message_due(message: Any, order: Order, step: Any, **_: Any) -> str | None:
    """Skip the follow-up and the survey once every item of the order is returned."""
    if step.name not in AFTER_DELIVERY_STEPS:
        return None
    return RETURNED_REASON if fully_returned(order, RETURNED_STATUSES) else None


def connect() -> None:
    """Connect this area's receivers (called once per process from portal.signals_wiring)."""
    order_signals.tracking_events_unmatched.connect(tracking_events_unmatched, weak=False)
    signals.return_approved.connect(return_approved, weak=False)
    messaging_signals.message_due.connect(message_due, weak=False)
