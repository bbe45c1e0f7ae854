"""The outbox: writing messages of the sequence, and the guards a message must pass when it is due.

Other areas schedule their confirmations from their own signal receivers (wired in `portal.signals_wiring`),
inside the transaction of the change that caused them, and never commit::

    from portal.messaging.service import schedule_message

    def _instructions_changed(shipment, version, **_):
        schedule_message(shipment.order, "delivery_instructions_changed", shipment=shipment,
                         key=f"v{version.number}", context={"summary": version.summary})

    def _return_requested(return_, **_):
        schedule_message(return_.order, "return_confirmation", key=return_.rma,
                         context={"rma": return_.rma, "label_url": label_url})

`key` distinguishes repeats of a step (each instructions version, each return); without it a step is sent
once per order (and shipment). `context` holds plain JSON values the step's templates use. Nothing is sent
from the web request: the worker's dispatcher (every minute) finds the committed row when it is due and
queues its send job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import joinedload

from portal import clock, shop_settings
from portal.accounts.models import User
from portal.accounts.service import channel_preferences
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.messaging import signals
from portal.messaging.models import Message, MessageSuppression
from portal.messaging.sequence import (
    AFTER_DELIVERY_STEPS,
    BEFORE_DELIVERY_STEPS,
    EMAIL,
    SMS,
    STEPS,
    Step,
    get_step,
)
from portal.orders.models import Order, Shipment

# Reasons recorded on skipped messages (stable: staff pages and the API show them).
CANCELLED = "order_cancelled"
STALE = "stale"
NO_RECIPIENT = "no_recipient"
PREFERENCES = "preferences"
UNSUBSCRIBED = "unsubscribed"
SMS_STOPPED = "sms_stopped"
NOT_DELIVERED = "not_delivered"
SUPERSEDED = "superseded"


@dataclass(frozen=True)
class Recipient:
    """Who a message of an order goes to, with their choices, as of now."""

    name: str
    email: str
    phone: str | None
    locale: str
    timezone: str
    user: User | None

    @property
    def preferences(self) -> dict[str, dict[str, bool]] | None:
        return channel_preferences(self.user) if self.user is not None else None

    def address(self, channel: str) -> str | None:
        return self.email if channel == EMAIL else self.phone

    def wants(self, step: Step, channel: str) -> bool:
        """The customer's own choice; a guest has made none, so gets e-mail and no SMS (no consent)."""
        preferences = self.preferences
        if preferences is None:
            return channel == EMAIL
        return bool(preferences[step.kind][channel])


def recipient_of(order: Order) -> Recipient:
    """The order's customer: the account's details where there is one, else those given with the order."""
    config = current_app.config
    user = order.customer
    locale = (user.locale if user else None) or order.locale
    timezone = (user.timezone if user else None) or config["DEFAULT_TIMEZONE"]
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        timezone = config["DEFAULT_TIMEZONE"]
    return Recipient(
        name=(user.name if user and user.name else order.customer_name),
        email=user.email if user else order.email,
        # Only an account can consent to SMS, so only an account's number is used.
        phone=user.phone if user else None,
        locale=locale if locale in SUPPORTED_LOCALES else config["DEFAULT_LOCALE"],
        timezone=timezone,
        user=user,
    )


# --- writing the outbox -------------------------------------------------------------------------------------


def schedule_message(
    order: Order,
    step: str,
    *,
    shipment: Shipment | None = None,
    context: dict[str, Any] | None = None,
    key: str | None = None,
    event_at: datetime | None = None,
) -> list[int]:
    """Write the step's messages for the order (one per channel the customer can get) and return their ids.

    A message that exists already is left alone, so calling this twice schedules once. `event_at` is when the
    cause happened (default: now): delayed steps are due that long after it, and a message whose cause is
    older than MESSAGE_STALE_HOURS when due is skipped. Flushes; raises ValueError for an unknown step.
    """
    if step not in STEPS:
        raise ValueError(f"unknown message step {step!r}")
    definition = get_step(step)
    now = clock.now()
    event_at = event_at or now
    due_at = max(now, event_at + definition.delay()) if definition.delay_setting else now
    recipient = recipient_of(order)
    scope = _scope(definition, recipient, shipment, key, event_at)
    created: list[int] = []
    for channel in definition.channels:
        if channel == SMS and not (recipient.phone and recipient.wants(definition, SMS)):
            continue
        message_id = _insert_once(
            {
                "order_id": order.id,
                "shipment_id": shipment.id if shipment is not None else None,
                "step": step,
                "channel": channel,
                "scope": scope,
                "recipient": recipient.address(channel),
                "locale": recipient.locale,
                "status": "scheduled",
                "event_at": event_at,
                "due_at": due_at,
                "attempts": 0,
                "context": context,
            }
        )
        if message_id is not None:
            created.append(message_id)
    return created


def _scope(
    step: Step, recipient: Recipient, shipment: Shipment | None, key: str | None, event_at: datetime
) -> str:
    parts = []
    if shipment is not None:
        parts.append(f"s{shipment.id}")
    if step.daily:
        parts.append(event_at.astimezone(ZoneInfo(recipient.timezone)).date().isoformat())
    if key:
        parts.append(key)
    return ":".join(parts)[:64]


def _insert_once(values: dict[str, Any]) -> int | None:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: two receivers racing write the message once."""
    table = Message.__table__
    now = clock.now()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(created_at=now, updated_at=now, **values)
        .on_conflict_do_nothing(index_elements=["order_id", "step", "channel", "scope"])
        .returning(table.c.id)
    )
    return db.session.scalar(statement)


# --- the guards ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What to do with a due message: send it, skip it (with a reason) or try again at `defer_until`."""

    skip_reason: str | None = None
    defer_until: datetime | None = None

    @property
    def send(self) -> bool:
        return self.skip_reason is None and self.defer_until is None


SEND = Decision()


def check_guards(message: Message, recipient: Recipient, as_of: datetime) -> Decision:
    """Decide about a due message as of `as_of` (the wall clock, or its due time for `dispatch --until`).

    In order: the order is cancelled; another area vetoes (e.g. a full return); the parcel is no longer
    delivered (follow-ups) or already is (news of its journey); the cause is stale; nowhere to send it; the
    customer's choices, unsubscribes and STOPs; then quiet hours for SMS and the daily cap for
    non-transactional steps, which defer rather than skip.
    """
    order = message.order
    step = get_step(message.step)
    if order.status == "cancelled":
        return Decision(CANCELLED)
    for _receiver, reason in signals.message_due.send(message, order=order, step=step):
        if reason:
            return Decision(str(reason)[:40])
    if message.step in AFTER_DELIVERY_STEPS and not _still_delivered(order):
        return Decision(NOT_DELIVERED)
    shipment = message.shipment
    if message.step in BEFORE_DELIVERY_STEPS and shipment is not None and shipment.status == "delivered":
        return Decision(SUPERSEDED)
    stale_after = timedelta(hours=int(current_app.config["MESSAGE_STALE_HOURS"]))
    if as_of - (message.event_at + step.delay()) > stale_after:
        return Decision(STALE)
    address = recipient.address(message.channel)
    if not address:
        return Decision(NO_RECIPIENT)
    if not recipient.wants(step, message.channel):
        return Decision(PREFERENCES)
    suppressed = _suppression(message.channel, address, step, recipient)
    if suppressed:
        return Decision(suppressed)
    if message.channel == SMS:
        morning = _end_of_quiet_hours(as_of, recipient.timezone)
        if morning is not None:
            return Decision(defer_until=morning)
    if not step.transactional:
        free_at = _cap_frees_at(message, address, as_of)
        if free_at is not None:
            return Decision(defer_until=free_at)
    return SEND


def _still_delivered(order: Order) -> bool:
    return bool(order.shipments) and all(s.status == "delivered" for s in order.shipments)


def _suppression(channel: str, address: str, step: Step, recipient: Recipient) -> str | None:
    if channel == SMS:
        kinds: Sequence[str] = ("all",)
    elif recipient.user is None and not step.transactional:
        # Account holders' unsubscribes are in their preferences (checked before); guests' are kept here.
        kinds = (step.kind, "all")
    else:
        return None
    found = db.session.scalar(
        select(MessageSuppression.id).where(
            MessageSuppression.channel == channel,
            MessageSuppression.address == address,
            MessageSuppression.kind.in_(kinds),
        )
    )
    if found is None:
        return None
    return SMS_STOPPED if channel == SMS else UNSUBSCRIBED


def _end_of_quiet_hours(moment: datetime, timezone: str) -> datetime | None:
    """The next local SEND_FROM hour if `moment` falls in the customer's quiet hours, else None."""
    start, end = int(shop_settings.get("SMS_SEND_FROM_HOUR")), int(shop_settings.get("SMS_SEND_UNTIL_HOUR"))
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    if start <= local.hour < end:
        return None
    day = local.date() if local.hour < start else local.date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, start, tzinfo=zone).astimezone(moment.tzinfo)


def _cap_frees_at(message: Message, address: str, as_of: datetime) -> datetime | None:
    """When the daily cap lets another non-transactional message go to `address`, if it holds it back now."""
    cap = int(shop_settings.get("MESSAGE_DAILY_CAP"))
    if cap <= 0:  # no cap
        return None
    window = timedelta(days=1)
    capped_steps = [name for name, step in STEPS.items() if not step.transactional]
    recent = db.session.scalars(
        select(Message.due_at)
        .where(
            Message.recipient == address,
            Message.due_at > as_of - window,
            Message.due_at <= as_of,
            Message.status == "sent",
            Message.step.in_(capped_steps),
            Message.id != message.id,
        )
        .order_by(Message.due_at)
    ).all()
    if len(recent) < cap:
        return None
    return recent[len(recent) - cap] + window


# --- reading ------------------------------------------------------------------------------------------------


def messages_of_order(order_id: int) -> list[Message]:
    """Every message of the order, in the order they are or were due (for the API and staff)."""
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.order_id == order_id)
            .order_by(Message.due_at, Message.id)
            .options(joinedload(Message.shipment))
        )
    )


def sent_messages_of_order(order_id: int) -> list[Message]:
    """The messages the customer was sent about the order, oldest first (for the order page)."""
    return list(
        db.session.scalars(
            select(Message)
            .where(Message.order_id == order_id, Message.status == "sent")
            .order_by(Message.sent_at, Message.id)
        )
    )
