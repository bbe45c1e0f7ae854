"""Returns as the pages show them: plain values, translated labels, no queries in templates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal import shop_settings
from portal.i18n import date_filter
from portal.orders.models import Order
from portal.returns import eligibility, service
from portal.returns.eligibility import ItemEligibility
from portal.returns.models import CANCELLABLE_STATUSES, HOLDING_STATUSES, Return

STATUS_LABELS: dict[str, LazyString] = {
    "requested": _l("Waiting for approval"),
    "approved": _l("Approved"),
    "label_ready": _l("Label ready"),
    "in_transit": _l("On its way back"),
    "received": _l("Received by the shop"),
    "refunded": _l("Refunded"),
    "credited": _l("Store credit issued"),
    "rejected": _l("Rejected"),
    "cancelled": _l("Cancelled"),
}
TIMELINE_LABELS: dict[str, LazyString] = {
    "requested": _l("Return requested"),
    "approved": _l("Return approved"),
    "label_ready": _l("Label ready to print"),
    "in_transit": _l("Parcel handed to the carrier"),
    "received": _l("Parcel received by the shop"),
    "refunded": _l("Refund sent to your original payment method"),
    "credited": _l("Store credit issued"),
    "rejected": _l("Return rejected"),
    "cancelled": _l("Return cancelled"),
}
# The default reason codes in the customer's language; a shop's own codes show the label it configured.
REASON_LABELS: dict[str, LazyString] = {
    "too_small": _l("Too small"),
    "too_large": _l("Too large"),
    "not_as_described": _l("Not as described"),
    "damaged": _l("Arrived damaged"),
    "wrong_item": _l("Wrong item sent"),
    "changed_mind": _l("Changed my mind"),
    "other": _l("Other"),
}
RESOLUTION_LABELS: dict[str, LazyString] = {
    "refund": _l("Refund to the original payment method"),
    "store_credit": _l("Store credit"),
    "exchange": _l("Exchange for another size or colour"),
}
METHOD_LABELS: dict[str, LazyString] = {
    "label": _l("Printable label"),
    "qr_dropoff": _l("QR code for drop-off at a partner point"),
}
# Progress of the label for the polling element: (step, of steps).
LABEL_PROGRESS = {"pending": 1, "rendering": 2, "ready": 3}


def reason_label(code: str) -> str:
    if code in REASON_LABELS:
        return str(REASON_LABELS[code])
    for reason in service.reasons():
        if reason.code == code:
            return reason.label
    return code


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


def item_name(name: str, variant: str | None) -> str:
    return f"{name} ({variant})" if variant else name


@dataclass(frozen=True)
class ItemRow:
    order_item_id: int
    name: str
    variant: str | None
    quantity: int
    unit_price: Decimal
    eligible: bool
    remaining: int
    text: str


def item_row(found: ItemEligibility) -> ItemRow:
    if found.eligible and found.deadline is not None:
        text = _("Returnable until %(date)s", date=date_filter(found.deadline, "long"))
    else:
        text = service.blocked_message(found) if found.blocked_by else _("Already in a return.")
    return ItemRow(
        order_item_id=found.item.id,
        name=found.item.name,
        variant=found.item.variant,
        quantity=found.item.quantity,
        unit_price=Decimal(found.item.unit_price),
        eligible=found.eligible,
        remaining=found.remaining,
        text=text,
    )


@dataclass(frozen=True)
class ReturnSummary:
    rma: str
    status: str
    status_label: str
    created_at: datetime
    url: str


@dataclass(frozen=True)
class OrderReturnsPanel:
    rows: list[ItemRow]
    returns: list[ReturnSummary]
    can_request: bool
    new_url: str


def order_panel(order: Order, now: datetime) -> OrderReturnsPanel:
    """The order page's returns section, from one query (the order's returns with their lines)."""
    returns = service.returns_with_lines(order.id)
    held: dict[int, int] = {}
    for item in returns:
        if item.status in HOLDING_STATUSES:
            for line in item.lines:
                held[line.order_item_id] = held.get(line.order_item_id, 0) + line.quantity
    rows = [item_row(found) for found in eligibility.order_eligibility(order, now, held=held)]
    summaries = [
        ReturnSummary(
            rma=item.rma,
            status=item.status,
            status_label=status_label(item.status),
            created_at=item.created_at,
            url=url_for("returns.detail", rma=item.rma),
        )
        for item in returns
    ]
    return OrderReturnsPanel(
        rows=rows,
        returns=summaries,
        can_request=any(row.eligible for row in rows),
        new_url=url_for("returns.new", number=order.number),
    )


@dataclass(frozen=True)
class TimelineEntry:
    status: str
    title: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class LineView:
    name: str
    quantity: int
    reason: str
    comment: str | None


@dataclass(frozen=True)
class ReturnView:
    rma: str
    order_number: str
    order_url: str
    status: str
    status_label: str
    resolution: str
    resolution_label: str
    exchange_wish: str | None
    method_label: str
    currency: str
    refund_amount: Decimal
    credit_bonus: Decimal
    lines: list[LineView]
    timeline: list[TimelineEntry]
    label_state: str | None
    label_progress: int
    label_url: str
    download_url: str
    status_url: str
    cancel_url: str
    can_cancel: bool
    waiting_for_review: bool
    decision_note: str | None

    @property
    def credit_total(self) -> Decimal:
        return self.refund_amount + self.credit_bonus

    @property
    def label_wanted(self) -> bool:
        """The label is being made or ready and the parcel has not been received yet."""
        return self.label_state is not None and self.status in ("approved", "label_ready", "in_transit")


def present_return(item: Return) -> ReturnView:
    label = item.label
    timeline = [
        TimelineEntry(
            event.status, str(TIMELINE_LABELS.get(event.status, event.status)), event.occurred_at, event.note
        )
        for event in reversed(item.events)
    ]
    state = label.state if label is not None else None
    return ReturnView(
        rma=item.rma,
        order_number=item.order.number,
        order_url=url_for("orders.order_detail", number=item.order.number),
        status=item.status,
        status_label=status_label(item.status),
        resolution=item.resolution,
        resolution_label=str(RESOLUTION_LABELS.get(item.resolution, item.resolution)),
        exchange_wish=item.exchange_wish,
        method_label=str(METHOD_LABELS.get(item.method, item.method)),
        currency=item.currency,
        refund_amount=Decimal(item.refund_amount),
        credit_bonus=Decimal(item.credit_bonus),
        lines=[
            LineView(
                item_name(line.order_item.name, line.order_item.variant),
                line.quantity,
                reason_label(line.reason_code),
                line.comment,
            )
            for line in item.lines
        ],
        timeline=timeline,
        label_state=state,
        label_progress=LABEL_PROGRESS.get(state or "", 0),
        label_url=url_for("returns.label_pdf", rma=item.rma),
        download_url=url_for("returns.label_pdf", rma=item.rma, download=1),
        status_url=url_for("returns.detail", rma=item.rma),
        cancel_url=url_for("returns.cancel", rma=item.rma),
        can_cancel=item.status in CANCELLABLE_STATUSES,
        waiting_for_review=item.status == "requested",
        decision_note=item.decision_note if item.status == "rejected" else None,
    )


def bonus_percent() -> int:
    return int(shop_settings.get("STORE_CREDIT_BONUS_PERCENT"))
