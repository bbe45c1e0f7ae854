"""Domain operations on returns: request (with the auto-approval rules), approve, reject, cancel, receive,
refund or credit, and the staff review queue. They flush; the caller commits once.

Every change writes an audit entry, a timeline event, and sends the signals in `portal.returns.signals`;
`return.requested`, `return.approved` and `return.received` also go to the shop as webhooks.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import get_currency_precision
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from rq import Retry
from sqlalchemy import select
from sqlalchemy.orm import contains_eager, selectinload

from portal import audit, clock, shop_settings
from portal.audit import Actor
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.orders.models import Order, OrderItem
from portal.queue import enqueue_after_commit
from portal.returns import eligibility, signals
from portal.returns.models import (
    CANCELLABLE_STATUSES,
    METHODS,
    RESOLUTIONS,
    Return,
    ReturnEvent,
    ReturnLabel,
    ReturnLine,
)
from portal.webhooks.service import queue_webhook

# Unambiguous characters only: no 0/O, 1/I/L, U/V, S/5 or B/8 to mix up when read out or typed.
RMA_ALPHABET = "234679ACDEFGHJKMNPQRTWXYZ"
RMA_LENGTH = 6
COMMENT_MAX = 1000
EXCHANGE_WISH_MAX = 200
NOTE_MAX = 1000

# Why the rules sent a return to staff instead of approving it.
RULE_ORDER_VALUE = "order_value"
RULE_REASON = "reason_needs_review"
REVIEW_RULE_LABELS: dict[str, LazyString] = {
    RULE_ORDER_VALUE: _l("Order value above the automatic approval limit"),
    RULE_REASON: _l("A reason that needs inspection"),
}

LABEL_JOB = "portal.returns.tasks.render_return_label"
LABEL_QUEUE = "labels"
LABEL_RETRY = Retry(max=2, interval=[5, 30])


@dataclass(frozen=True)
class Reason:
    code: str
    label: str
    comment_required: bool
    needs_review: bool


@dataclass(frozen=True)
class LineRequest:
    order_item_id: int
    quantity: int
    reason_code: str
    comment: str | None = None


@dataclass(frozen=True)
class ReturnRequest:
    lines: Sequence[LineRequest]
    resolution: str
    method: str
    idempotency_key: str
    exchange_wish: str | None = None


@dataclass(frozen=True)
class ReviewItem:
    """A return waiting for staff, with the rule that sent it there."""

    return_: Return
    rule: str | None

    @property
    def rule_label(self) -> str:
        return str(REVIEW_RULE_LABELS.get(self.rule or "", self.rule or ""))


def reasons() -> list[Reason]:
    """The shop's reason codes (RETURN_REASONS), in the shop's order."""
    return [
        Reason(
            code=str(entry["code"]),
            label=str(entry.get("label") or entry["code"]),
            comment_required=bool(entry.get("comment_required")),
            needs_review=bool(entry.get("needs_review")),
        )
        for entry in shop_settings.get("RETURN_REASONS")
    ]


def line_field(order_item_id: int, name: str) -> str:
    """The name of a line's field in forms and in Invalid.fields: `item-<id>-quantity` and so on."""
    return f"item-{order_item_id}-{name}"


def new_rma() -> str:
    """A fresh RMA number like R-7KQ4MZ that no return has yet."""
    while True:
        code = "R-" + "".join(secrets.choice(RMA_ALPHABET) for _ in range(RMA_LENGTH))
        if db.session.scalar(select(Return.id).where(Return.rma == code)) is None:
            return code


def get_return(rma: str) -> Return:
    """The return with this RMA number. Raises NotFound."""
    found = db.session.scalar(select(Return).where(Return.rma == rma))
    if found is None:
        raise NotFound(str(_l("There is no return %(rma)s.", rma=rma)), code="return_not_found")
    return found


def find_by_idempotency_key(key: str) -> Return | None:
    return db.session.scalar(select(Return).where(Return.idempotency_key == key))


def returns_of_order(order_id: int) -> list[Return]:
    """The order's returns, oldest first, with their lines, events and label state loaded."""
    return list(
        db.session.scalars(
            select(Return)
            .where(Return.order_id == order_id)
            .order_by(Return.created_at, Return.id)
            .options(
                selectinload(Return.lines).joinedload(ReturnLine.order_item),
                selectinload(Return.events),
                selectinload(Return.label),
            )
        )
    )


def returns_with_lines(order_id: int) -> list[Return]:
    """The order's returns with their lines (not the items), oldest first, in one statement."""
    return list(
        db.session.scalars(
            select(Return)
            .join(Return.lines)
            .where(Return.order_id == order_id)
            .order_by(Return.created_at, Return.id, ReturnLine.id)
            .options(contains_eager(Return.lines))
        ).unique()
    )


def list_returns(status: str | None = None, limit: int = 100) -> list[Return]:
    """Returns (optionally of one status), oldest first, for the warehouse."""
    query = (
        select(Return)
        .order_by(Return.created_at, Return.id)
        .limit(limit)
        .options(
            selectinload(Return.order),
            selectinload(Return.lines).joinedload(ReturnLine.order_item),
            selectinload(Return.events),
            selectinload(Return.label),
        )
    )
    if status is not None:
        query = query.where(Return.status == status)
    return list(db.session.scalars(query))


def review_queue() -> list[ReviewItem]:
    """Returns waiting for a staff decision, oldest first, each with the rule that sent it there."""
    waiting = db.session.scalars(
        select(Return)
        .where(Return.status == "requested")
        .order_by(Return.created_at, Return.id)
        .options(selectinload(Return.order), selectinload(Return.lines).joinedload(ReturnLine.order_item))
    )
    return [ReviewItem(item, item.review_rule) for item in waiting]


# --- requesting ---------------------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency)), rounding=ROUND_HALF_UP)


def credit_bonus_for(amount: Decimal, currency: str) -> Decimal:
    """The store-credit bonus on `amount` (STORE_CREDIT_BONUS_PERCENT), rounded to the currency."""
    percent = Decimal(int(shop_settings.get("STORE_CREDIT_BONUS_PERCENT")))
    return _money(amount * percent / 100, currency)


def _clean_text(value: str | None) -> str | None:
    """Trimmed text with plain newlines, or None when empty (lengths are checked by the caller)."""
    if value is None:
        return None
    value = value.replace("\r\n", "\n").strip()
    return value or None


def _validate(
    order: Order, data: ReturnRequest, now: datetime
) -> tuple[list[tuple[OrderItem, LineRequest]], str]:
    """The lines to create and the review rule ('' to approve at once). Raises Invalid naming each field."""
    fields: dict[str, str] = {}
    known_reasons = {reason.code: reason for reason in reasons()}
    by_id = {e.item.id: e for e in eligibility.order_eligibility(order, now)}
    lines: list[tuple[OrderItem, LineRequest]] = []
    seen: set[int] = set()
    needs_review = False
    for line in data.lines:
        if line.quantity == 0:
            continue
        qty_field = line_field(line.order_item_id, "quantity")
        found = by_id.get(line.order_item_id)
        if found is None:
            fields[qty_field] = str(_l("This item is not part of this order."))
            continue
        if line.order_item_id in seen:
            fields[qty_field] = str(_l("This item is listed twice."))
            continue
        seen.add(line.order_item_id)
        if line.quantity < 0:
            fields[qty_field] = str(_l("Choose a quantity of 0 or more."))
            continue
        if found.blocked_by is not None:
            fields[qty_field] = blocked_message(found)
            continue
        if line.quantity > found.remaining:
            fields[qty_field] = str(
                _l("You can return at most %(count)s of this item.", count=found.remaining)
            )
            continue
        reason = known_reasons.get(line.reason_code)
        comment = _clean_text(line.comment)
        if reason is None:
            fields[line_field(line.order_item_id, "reason")] = str(_l("Choose a reason from the list."))
        elif reason.comment_required and not comment:
            fields[line_field(line.order_item_id, "comment")] = str(
                _l("Please tell us a little more about this reason.")
            )
        if comment and len(comment) > COMMENT_MAX:
            fields[line_field(line.order_item_id, "comment")] = str(
                _l("Use at most %(count)s characters.", count=COMMENT_MAX)
            )
        if reason is not None and reason.needs_review:
            needs_review = True
        lines.append((found.item, LineRequest(line.order_item_id, line.quantity, line.reason_code, comment)))
    if not lines and not fields:
        fields["items"] = str(_l("Choose at least one item to return."))
    if data.resolution not in RESOLUTIONS:
        fields["resolution"] = str(_l("Choose how you would like to be refunded."))
    wish = _clean_text(data.exchange_wish)
    if data.resolution == "exchange" and not wish:
        fields["exchange_wish"] = str(_l("Tell us which size or colour you would like instead."))
    elif wish and len(wish) > EXCHANGE_WISH_MAX:
        fields["exchange_wish"] = str(_l("Use at most %(count)s characters.", count=EXCHANGE_WISH_MAX))
    if data.method not in METHODS:
        fields["method"] = str(_l("Choose how you will send the parcel."))
    if fields:
        raise Invalid(str(_l("Some details of your return need attention.")), fields=fields)
    limit = Decimal(shop_settings.get("RETURN_AUTO_APPROVE_MAX_ORDER_VALUE"))
    if Decimal(order.total) > limit:
        rule = RULE_ORDER_VALUE
    elif needs_review:
        rule = RULE_REASON
    else:
        rule = ""
    return lines, rule


def blocked_message(found: eligibility.ItemEligibility) -> str:
    """Why an item cannot be returned, for people."""
    from portal.i18n import date_filter

    if found.blocked_by == eligibility.NOT_RETURNABLE:
        return str(_l("This item cannot be returned."))
    if found.blocked_by == eligibility.ORDER_CANCELLED:
        return str(_l("The order was cancelled."))
    if found.blocked_by == eligibility.NOT_DELIVERED:
        return str(_l("It can be returned once it has been delivered."))
    if found.blocked_by == eligibility.WINDOW_CLOSED:
        return str(_l("The return window closed on %(date)s.", date=date_filter(found.deadline, "long")))
    return str(_l("Already in a return."))


def request_return(
    order: Order, data: ReturnRequest, actor: Actor, *, requested_by_user_id: int | None = None
) -> tuple[Return, bool]:
    """Create a return for some items of `order`; return (return, created).

    The same idempotency key twice gives back the first return (created False). Approves at once when the
    rules allow (order value at most RETURN_AUTO_APPROVE_MAX_ORDER_VALUE, no reason that needs review);
    otherwise the return waits for staff. Raises Invalid naming each bad field, Conflict for a key that
    belongs to another order.
    """
    # One request at a time per order, so two forms cannot return the same units twice, and a double submit
    # racing the first one finds it here once the first has committed.
    db.session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    existing = find_by_idempotency_key(data.idempotency_key)
    if existing is not None:
        if existing.order_id != order.id:
            raise Conflict(str(_l("This form was already used. Please start again.")), code="key_reused")
        return existing, False
    now = clock.now()
    lines, rule = _validate(order, data, now)
    amount = sum((Decimal(item.unit_price) * line.quantity for item, line in lines), Decimal(0))
    amount = _money(amount, order.currency)
    rma = new_rma()
    created = Return(
        rma=rma,
        order=order,
        status="requested",
        resolution=data.resolution,
        exchange_wish=_clean_text(data.exchange_wish) if data.resolution == "exchange" else None,
        method=data.method,
        currency=order.currency,
        refund_amount=amount,
        credit_bonus=credit_bonus_for(amount, order.currency)
        if data.resolution == "store_credit"
        else Decimal(0),
        tracking_number=rma,
        idempotency_key=data.idempotency_key,
        review_rule=rule or None,
        requested_by_user_id=requested_by_user_id,
    )
    for item, line in lines:
        created.lines.append(
            ReturnLine(
                order_item_id=item.id,
                quantity=line.quantity,
                reason_code=line.reason_code,
                comment=line.comment,
            )
        )
    db.session.add(created)
    db.session.flush()
    _add_event(created, "requested", actor, now)
    audit.record(actor, "return.requested", "return", rma, None, snapshot(created))
    signals.return_requested.send(created)
    signals.return_status_changed.send(created, previous=None, status="requested")
    queue_webhook("return.requested", webhook_data(created))
    if not rule:
        _approve(created, Actor.system("return rules"), note=None, now=now)
    return created, True


# --- decisions and progress ---------------------------------------------------------------------------------


def snapshot(item: Return) -> dict[str, Any]:
    return {
        "status": item.status,
        "resolution": item.resolution,
        "method": item.method,
        "lines": {str(line.order_item_id): line.quantity for line in item.lines},
    }


def _add_event(
    item: Return, status: str, actor: Actor, occurred_at: datetime, note: str | None = None
) -> None:
    item.events.append(
        ReturnEvent(
            status=status,
            occurred_at=occurred_at,
            actor_label=actor.label[:200],
            note=note[:NOTE_MAX] if note else None,
        )
    )


def _move(
    item: Return,
    status: str,
    actor: Actor,
    *,
    allowed_from: Sequence[str],
    occurred_at: datetime | None = None,
    note: str | None = None,
) -> str:
    """Change the status (if allowed from the current one), with event, audit entry and signal."""
    previous = item.status
    if previous not in allowed_from:
        from portal.returns.presenters import status_label

        raise Conflict(
            str(
                _l(
                    "Return %(rma)s is “%(status)s”: it cannot become “%(new)s”.",
                    rma=item.rma,
                    status=status_label(previous),
                    new=status_label(status),
                )
            ),
            code="return_state",
        )
    item.status = status
    _add_event(item, status, actor, occurred_at or clock.now(), note)
    db.session.flush()
    audit.record(
        actor, f"return.{status}", "return", item.rma, {"status": previous}, {"status": status, "note": note}
    )
    signals.return_status_changed.send(item, previous=previous, status=status)
    return previous


def _approve(item: Return, actor: Actor, *, note: str | None, now: datetime) -> None:
    _move(item, "approved", actor, allowed_from=("requested",), occurred_at=now, note=note)
    queue_label(item)
    signals.return_approved.send(item)
    queue_webhook("return.approved", webhook_data(item))


def approve_return(item: Return, actor: Actor, *, note: str | None = None) -> Return:
    """Staff approve a return waiting for review; its label is made next. Raises Conflict unless requested."""
    _approve(item, actor, note=_clean_text(note), now=clock.now())
    return item


def reject_return(item: Return, actor: Actor, *, reason: str) -> Return:
    """Refuse a return (at review, or after inspection); `reason` is shown to the customer.

    Raises Invalid without a reason, Conflict once refunded, credited, rejected or cancelled.
    """
    text = _clean_text(reason)
    if not text:
        raise Invalid(str(_l("Give a reason for the rejection.")), fields={"reason": str(_l("Required."))})
    allowed = ("requested", "approved", "label_ready", "in_transit", "received")
    _move(item, "rejected", actor, allowed_from=allowed, note=text[:NOTE_MAX])
    item.decision_note = text[:NOTE_MAX]
    return item


def cancel_return(item: Return, actor: Actor) -> Return:
    """The shopper withdraws the return before sending it. Raises Conflict once the parcel is on its way."""
    _move(item, "cancelled", actor, allowed_from=CANCELLABLE_STATUSES)
    signals.return_cancelled.send(item)
    return item


def mark_in_transit(item: Return, actor: Actor, *, occurred_at: datetime, note: str | None = None) -> bool:
    """The carrier scanned the return parcel; True when that moved the return (only the first scan does)."""
    if item.status not in ("approved", "label_ready"):
        return False
    _move(
        item,
        "in_transit",
        actor,
        allowed_from=("approved", "label_ready"),
        occurred_at=occurred_at,
        note=note,
    )
    return True


def mark_received(item: Return, actor: Actor, *, occurred_at: datetime, note: str | None = None) -> Return:
    """The warehouse has the parcel. Raises Conflict unless approved, label ready or in transit."""
    _move(
        item,
        "received",
        actor,
        allowed_from=("approved", "label_ready", "in_transit"),
        occurred_at=occurred_at,
        note=_clean_text(note),
    )
    lines = [(line.order_item_id, line.quantity) for line in item.lines]
    signals.return_received.send(item, lines=lines, occurred_at=occurred_at)
    queue_webhook("return.received", webhook_data(item))
    return item


def mark_refunded(
    item: Return, actor: Actor, *, occurred_at: datetime | None = None, note: str | None = None
) -> Return:
    """The money went back to the original payment. Raises Conflict unless received."""
    _move(
        item,
        "refunded",
        actor,
        allowed_from=("received",),
        occurred_at=occurred_at,
        note=_clean_text(note),
    )
    return item


def mark_credited(
    item: Return, actor: Actor, *, occurred_at: datetime | None = None, note: str | None = None
) -> Return:
    """Store credit (with its bonus) was issued. Raises Conflict unless received."""
    _move(
        item,
        "credited",
        actor,
        allowed_from=("received",),
        occurred_at=occurred_at,
        note=_clean_text(note),
    )
    return item


def record_warehouse_event(
    item: Return, event_type: str, actor: Actor, *, occurred_at: datetime, note: str | None = None
) -> bool:
    """Apply a warehouse report (received, refunded, credited, rejected); False when already recorded.

    Raises Conflict when the return's state does not allow it, Invalid for a rejection without a note.
    """
    if any(event.status == event_type for event in item.events):
        return False
    if event_type == "received":
        mark_received(item, actor, occurred_at=occurred_at, note=note)
    elif event_type == "refunded":
        mark_refunded(item, actor, occurred_at=occurred_at, note=note)
    elif event_type == "credited":
        mark_credited(item, actor, occurred_at=occurred_at, note=note)
    elif event_type == "rejected":
        reject_return(item, actor, reason=note or "")
    else:
        raise Invalid(
            str(_l("Unknown event type %(type)s.", type=repr(event_type))),
            fields={"type": str(_l("Unknown event type."))},
        )
    return True


# --- the label ----------------------------------------------------------------------------------------------


def label_job_id(return_id: int, attempt: int) -> str:
    """The RQ job id of one attempt at a label: the same attempt asked for twice is queued once."""
    return f"label-{return_id}-{attempt}"


def label_job_options() -> dict[str, Any]:
    return {"retry": LABEL_RETRY, "job_timeout": int(current_app.config["LABEL_JOB_TIMEOUT_SECONDS"])}


def queue_label(item: Return) -> ReturnLabel:
    """Write the label row (pending) and queue its rendering after the commit."""
    label = item.label
    if label is None:
        label = ReturnLabel(state="pending", attempts=0, requested_at=clock.now())
        item.label = label
        db.session.flush()
    if label.state == "pending":
        enqueue_after_commit(
            LABEL_JOB,
            item.id,
            job_id=label_job_id(item.id, label.attempts + 1),
            queue=LABEL_QUEUE,
            **label_job_options(),
        )
    return label


def failed_labels() -> list[Return]:
    """Returns whose label could not be made after LABEL_MAX_ATTEMPTS (for staff), oldest first."""
    return list(
        db.session.scalars(
            select(Return)
            .join(ReturnLabel, ReturnLabel.return_id == Return.id)
            .where(ReturnLabel.state == "failed")
            .order_by(Return.created_at, Return.id)
            .options(selectinload(Return.order), selectinload(Return.label))
        )
    )


def retry_label(item: Return, actor: Actor) -> ReturnLabel:
    """Staff have the label made again after it failed. Raises Conflict unless it failed."""
    label = item.label
    if label is None or label.state != "failed":
        raise Conflict(str(_l("Only a label that failed can be made again.")), code="label_not_failed")
    before = {"state": label.state, "attempts": label.attempts, "error": label.last_error}
    label.state = "pending"
    label.attempts = 0
    label.claimed_at = None
    label.claim_token = None
    db.session.flush()
    audit.record(actor, "return.label_retried", "return", item.rma, before, {"state": "pending"})
    # A fresh job id: the failed attempts' ids may still be known to RQ.
    enqueue_after_commit(
        LABEL_JOB,
        item.id,
        job_id=f"{label_job_id(item.id, 1)}-retry-{int(clock.now().timestamp())}",
        queue=LABEL_QUEUE,
        **label_job_options(),
    )
    return label


def mark_label_ready(item: Return) -> None:
    """The label exists: an approved return becomes label_ready (later states are left alone)."""
    if item.status == "approved":
        _move(item, "label_ready", Actor.system("labels"), allowed_from=("approved",))


# --- shapes for others --------------------------------------------------------------------------------------


def webhook_data(item: Return) -> dict[str, Any]:
    """What the shop's webhooks carry about a return (plain JSON values)."""
    from portal.returns.serialize import return_payload

    return return_payload(item)
