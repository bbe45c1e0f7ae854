"""An order's whole story for staff on one timeline, newest first: order events, tracking events, delivery
instruction versions, messages, webhook deliveries and audit entries — plus what other areas add through
`TIMELINE_SOURCES` (returns, loyalty entries, survey answers). A fixed number of statements per order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import and_, or_, select

from portal.audit import AuditEntry
from portal.backoffice import labels
from portal.extensions import db
from portal.i18n import when_filter
from portal.messaging.models import Message
from portal.orders.instructions import histories
from portal.orders.models import Order, OrderEvent, TrackingEvent
from portal.webhooks.models import WebhookDelivery


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. `kind` groups entries (and styles them); `status` is a short state word."""

    at: datetime
    kind: str
    title: str
    detail: str | None = None
    actor: str | None = None
    status: str | None = None
    # `status` in the reader's words.
    status_label: str | None = None


# Other areas add entries: a function from the order to its entries (wired from the back-office, which may
# import every area).
TIMELINE_SOURCES: list[Callable[[Order], Iterable[Entry]]] = []

_ORDER_EVENT_TITLES = {
    "placed": _l("Order placed"),
    "paid": _l("Payment received"),
    "fulfilled": _l("Order packed"),
    "cancelled": _l("Order cancelled"),
}


def _order_events(order: Order) -> Iterable[Entry]:
    for event in db.session.scalars(select(OrderEvent).where(OrderEvent.order_id == order.id)):
        yield Entry(event.occurred_at, "order", str(_ORDER_EVENT_TITLES.get(event.type, event.type)))


def _tracking_events(order: Order) -> Iterable[Entry]:
    ids = {shipment.id: shipment.tracking_number for shipment in order.shipments}
    if not ids:
        return
    for event in db.session.scalars(select(TrackingEvent).where(TrackingEvent.shipment_id.in_(ids))):
        place = ", ".join(part for part in (event.city, event.country) if part)
        detail = " · ".join(part for part in (event.description, place) if part) or None
        status_label = labels.tracking_status(event.status)
        yield Entry(
            event.occurred_at,
            "tracking",
            _("Parcel %(tracking)s: %(status)s", tracking=ids[event.shipment_id or 0], status=status_label),
            detail,
            actor=_("staff") if event.raw_status == "staff" else None,
            status=event.status,
            status_label=status_label,
        )


def _instruction_versions(order: Order) -> Iterable[Entry]:
    numbers = {shipment.id: shipment.tracking_number for shipment in order.shipments}
    for shipment_id, versions in histories(numbers).items():
        for version in versions:
            yield Entry(
                version.created_at,
                "instructions",
                _(
                    "Delivery instructions for %(tracking)s, version %(version)d",
                    tracking=numbers[shipment_id],
                    version=version.version,
                ),
                _("Changed: %(fields)s", fields=", ".join(version.changed_fields))
                if version.changed_fields
                else None,
                actor=f"{version.changed_by_label} ({version.changed_by_role})",
            )


def _messages(order: Order) -> Iterable[Entry]:
    for message in db.session.scalars(select(Message).where(Message.order_id == order.id)):
        title = _(
            "Message: %(step)s by %(channel)s",
            step=labels.step(message.step),
            channel=labels.channel(message.channel),
        )
        if message.status == "skipped":
            detail = _("Skipped: %(reason)s", reason=labels.skip_reason(message.skip_reason) or "-")
        elif message.status == "failed":
            detail = _(
                "Failed after %(count)d attempts: %(error)s",
                count=message.attempts,
                error=message.last_error or "-",
            )
        elif message.status == "scheduled":
            detail = _("Due %(when)s", when=when_filter(message.due_at))
        else:
            detail = message.recipient
        at = message.sent_at or (message.updated_at if message.status != "scheduled" else message.due_at)
        yield Entry(
            at,
            "message",
            title,
            detail,
            status=message.status,
            status_label=labels.message_status(message.status),
        )


def _webhooks(order: Order) -> Iterable[Entry]:
    # Webhook bodies are the exact JSON sent, compact: every event about an order names it this way.
    needle = f'"order_number":"{order.number}"'
    for delivery in db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.body.contains(needle, autoescape=True))
    ):
        detail = ngettext(
            "%(count)d attempt", "%(count)d attempts", delivery.attempt_count, count=delivery.attempt_count
        )
        if delivery.last_error:
            detail += f" · {delivery.last_error}"
        yield Entry(
            delivery.created_at,
            "webhook",
            _("Webhook %(type)s", type=delivery.type),
            detail,
            status=delivery.status,
            status_label=labels.webhook_status(delivery.status),
        )


def _audit_entries(order: Order) -> Iterable[Entry]:
    tracking_numbers = [shipment.tracking_number for shipment in order.shipments]
    about = [and_(AuditEntry.object_type == "order", AuditEntry.object_id == order.number)]
    if tracking_numbers:
        about.append(and_(AuditEntry.object_type == "shipment", AuditEntry.object_id.in_(tracking_numbers)))
    for entry in db.session.scalars(select(AuditEntry).where(or_(*about))):
        yield Entry(
            entry.at,
            "audit",
            entry.action,
            describe_change(entry.before, entry.after),
            actor=entry.actor_label or entry.actor_type,
        )


def describe_change(before: dict[str, object] | None, after: dict[str, object] | None) -> str | None:
    """`before → after` for the keys that changed, in one line (staff-facing, values as stored)."""
    before, after = before or {}, after or {}
    parts = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if key not in before:
            parts.append(f"{key}: {new}")
        else:
            parts.append(f"{key}: {old} → {new}")
    return "; ".join(parts) or None


BUILT_IN_SOURCES: tuple[Callable[[Order], Iterable[Entry]], ...] = (
    _order_events,
    _tracking_events,
    _instruction_versions,
    _messages,
    _webhooks,
    _audit_entries,
)


def order_timeline(order: Order) -> list[Entry]:
    """Every entry of the order, newest first."""
    entries: list[Entry] = []
    for source in (*BUILT_IN_SOURCES, *TIMELINE_SOURCES):
        entries.extend(source(order))
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries
