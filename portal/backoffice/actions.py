"""What staff do to an order from the back-office. Each operation flushes and writes an audit entry (who,
what, before, after); the view commits once. They raise portal.errors (NotFound, Conflict, Invalid)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from portal import audit, clock
from portal.audit import Actor
from portal.backoffice.models import SequenceStop
from portal.backoffice.receivers import STOPPED_BY_STAFF
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.messaging.models import Message
from portal.orders import service as orders_service
from portal.orders.models import TRACKING_STATUSES, Order, Shipment

MAX_DESCRIPTION_LENGTH = 500


def add_tracking_event(
    order: Order,
    tracking_number: str,
    status: str,
    occurred_at: datetime,
    description: str | None,
    actor: Actor,
) -> Shipment:
    """Record a tracking event staff learnt of (say, from the carrier's phone line) through the same service
    as the carriers' API, so the status rules and the messages apply. Raises NotFound, Invalid."""
    shipment = next((s for s in order.shipments if s.tracking_number == tracking_number), None)
    if shipment is None:
        raise NotFound(str(_l("This order has no such parcel.")), code="shipment_not_found")
    errors: dict[str, str] = {}
    if status not in TRACKING_STATUSES:
        errors["status"] = str(_l("Choose a status."))
    if occurred_at > clock.now():
        errors["occurred_at"] = str(_l("The event cannot be in the future."))
    description = (description or "").strip() or None
    if description and len(description) > MAX_DESCRIPTION_LENGTH:
        errors["description"] = str(_l("Use at most %(count)s characters.", count=MAX_DESCRIPTION_LENGTH))
    if errors:
        raise Invalid(str(_l("The tracking event was not added.")), fields=errors)
    before = {"status": shipment.status}
    event_id = f"staff-{uuid.uuid4().hex}"
    orders_service.ingest_tracking_events(
        [
            orders_service.TrackingEventData(
                event_id=event_id,
                tracking_number=tracking_number,
                status=status,
                occurred_at=occurred_at,
                description=description,
                raw_status="staff",
            )
        ],
        actor,
    )
    db.session.refresh(shipment)
    audit.record(
        actor,
        "tracking_event.added",
        "shipment",
        tracking_number,
        before,
        {
            "status": shipment.status,
            "event": status,
            "occurred_at": occurred_at.isoformat(),
            "event_id": event_id,
            "order": order.number,
        },
    )
    return shipment


def _message_of_order(order: Order, message_id: int) -> Message:
    message = db.session.scalar(select(Message).where(Message.id == message_id, Message.order_id == order.id))
    if message is None:
        raise NotFound(str(_l("This order has no such message.")), code="message_not_found")
    return message


def resend_message(order: Order, message_id: int, actor: Actor) -> Message:
    """Send a message of the order again now: a failed one is retried, a sent or skipped one is copied into a
    new outbox row due now (the guards still apply). Raises NotFound, and Conflict while the message is still
    waiting or being sent, or the order's sequence is stopped."""
    message = _message_of_order(order, message_id)
    if db.session.get(SequenceStop, order.id) is not None:
        raise Conflict(
            str(_l("The sequence of this order is stopped; resume it first.")), code="sequence_stopped"
        )
    if message.status in ("scheduled", "sending"):
        raise Conflict(str(_l("This message has not gone out yet.")), code="message_pending")
    now = clock.now()
    before = {"status": message.status, "attempts": message.attempts}
    if message.status == "failed":
        target = _retry(message, now)
    else:
        copies = db.session.scalar(
            select(db.func.count())
            .select_from(Message)
            .where(
                Message.order_id == order.id,
                Message.step == message.step,
                Message.channel == message.channel,
                Message.scope.like(f"{message.scope[:50]}:r%"),
            )
        )
        target = Message(
            order_id=message.order_id,
            shipment_id=message.shipment_id,
            step=message.step,
            channel=message.channel,
            scope=f"{message.scope[:50]}:r{(copies or 0) + 1}",
            recipient=message.recipient,
            locale=message.locale,
            status="scheduled",
            event_at=now,
            due_at=now,
            attempts=0,
            context=message.context,
        )
        db.session.add(target)
        db.session.flush()
    audit.record(
        actor,
        "message.resent",
        "order",
        order.number,
        {"message": message.id, **before},
        {"message": target.id, "status": target.status, "step": target.step, "channel": target.channel},
    )
    return target


def _retry(message: Message, now: datetime) -> Message:
    message.status, message.due_at, message.attempts = "scheduled", now, 0
    message.last_error, message.claimed_at, message.skip_reason = None, None, None
    db.session.flush()
    return message


def retry_failed_message(message_id: int, actor: Actor) -> Message:
    """Queue a failed message again from the failed-messages queue. Raises NotFound, Conflict."""
    message = db.session.scalar(select(Message).where(Message.id == message_id).with_for_update())
    if message is None:
        raise NotFound(str(_l("No such message.")), code="message_not_found")
    if message.status != "failed":
        raise Conflict(str(_l("Only failed messages can be retried.")), code="message_not_failed")
    before = {"status": message.status, "attempts": message.attempts, "error": message.last_error}
    _retry(message, clock.now())
    audit.record(actor, "message.retried", "message", message.id, before, {"status": "scheduled"})
    return message


def stop_sequence(order: Order, actor: Actor, reason: str | None = None) -> int:
    """Stop every message of the order not sent yet, now and later; return how many waiting ones were skipped.
    Raises Conflict when it is stopped already."""
    if db.session.get(SequenceStop, order.id) is not None:
        raise Conflict(str(_l("The sequence of this order is stopped already.")), code="sequence_stopped")
    reason = (reason or "").strip()[:300] or None
    db.session.add(
        SequenceStop(
            order_id=order.id,
            stopped_at=clock.now(),
            stopped_by_id=actor.user_id,
            stopped_by_label=actor.label[:200],
            reason=reason,
        )
    )
    skipped: Any = db.session.execute(
        update(Message)
        .where(Message.order_id == order.id, Message.status == "scheduled")
        .values(status="skipped", skip_reason=STOPPED_BY_STAFF, updated_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    count = int(skipped.rowcount or 0)
    db.session.flush()
    audit.record(
        actor,
        "sequence.stopped",
        "order",
        order.number,
        {"stopped": False},
        {"stopped": True, "skipped": count, "reason": reason},
    )
    return count


def resume_sequence(order: Order, actor: Actor) -> None:
    """Let messages of the order go out again (those already skipped stay skipped). Raises Conflict."""
    stop = db.session.get(SequenceStop, order.id)
    if stop is None:
        raise Conflict(str(_l("The sequence of this order is not stopped.")), code="sequence_not_stopped")
    db.session.delete(stop)
    db.session.flush()
    audit.record(actor, "sequence.resumed", "order", order.number, {"stopped": True}, {"stopped": False})


def sequence_stop(order: Order) -> SequenceStop | None:
    return db.session.get(SequenceStop, order.id)
