"""Order-page panels and actions for returns (approve, reject, receive, refund, credit) and loyalty points
(adjust with a reason). The services audit every change; these views parse, call one service and commit."""

from __future__ import annotations

from typing import Any

from flask import abort, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal import clock
from portal.backoffice import order_views
from portal.backoffice.views import bp, staff_actor
from portal.errors import DomainError, Invalid
from portal.i18n import format_signed_number
from portal.orders.models import Order

RETURN_ACTIONS = ("approve", "reject", "receive", "refund", "credit")


def _returns_panel(order: Order) -> tuple[str, dict[str, Any]] | None:
    from portal.returns.presenters import RESOLUTION_LABELS, STATUS_LABELS
    from portal.returns.service import reasons, returns_of_order

    found = returns_of_order(order.id)
    if not found:
        return None
    labels = {reason.code: reason.label for reason in reasons()}
    return "backoffice/_returns_panel.html", {
        "returns": found,
        "reason_labels": labels,
        "status_labels": STATUS_LABELS,
        "resolution_labels": RESOLUTION_LABELS,
    }


def _loyalty_panel(order: Order) -> tuple[str, dict[str, Any]] | None:
    from portal.loyalty.ledger import balance_of

    if order.customer_id is None or order.customer is None or order.customer.role != "shopper":
        return None
    return "backoffice/_loyalty_panel.html", {
        "balance": balance_of(order.customer_id),
        "customer": order.customer,
    }


def register() -> None:
    if _returns_panel not in order_views.ORDER_PANELS:
        order_views.ORDER_PANELS.extend((_returns_panel, _loyalty_panel))


@bp.post("/orders/<ref:number>/returns/<rma>/<action>")
def return_action(number: str, rma: str, action: str) -> Response:
    """Approve, reject, receive, refund or credit one of the order's returns."""
    from portal.returns import service as returns

    order = order_views.load_order(number)
    if action not in RETURN_ACTIONS:
        abort(404)
    item = next((found for found in returns.returns_of_order(order.id) if found.rma == rma), None)
    if item is None:
        abort(404)
    note = (request.form.get("note") or "").strip() or None
    actor = staff_actor()
    try:
        if action == "approve":
            returns.approve_return(item, actor, note=note)
        elif action == "reject":
            returns.reject_return(item, actor, reason=note or "")
        elif action == "receive":
            returns.mark_received(item, actor, occurred_at=clock.now(), note=note)
        elif action == "refund":
            returns.mark_refunded(item, actor, note=note)
        else:
            returns.mark_credited(item, actor, note=note)
    except DomainError as error:
        return order_views.refused(order, error)
    messages = {
        "approve": _("Return %(rma)s is approved; its label is being made.", rma=rma),
        "reject": _("Return %(rma)s is rejected.", rma=rma),
        "receive": _("Return %(rma)s is marked as received.", rma=rma),
        "refund": _("Return %(rma)s is marked as refunded.", rma=rma),
        "credit": _("Return %(rma)s is marked as credited.", rma=rma),
    }
    return order_views.done(number, messages[action])


@bp.post("/orders/<ref:number>/points")
def adjust_points(number: str) -> Response:
    """Add or remove the customer's points, with a reason they see."""
    from portal.loyalty.spending import adjust_points as adjust

    order = order_views.load_order(number)
    if order.customer_id is None:
        abort(404)
    raw = (request.form.get("points") or "").strip()
    try:
        points = int(raw)
    except ValueError:
        return order_views.refused(
            order, Invalid(_("Enter a whole number of points, e.g. 50 or -20."), fields={"points": raw})
        )
    try:
        adjust(order.customer_id, points, reason=request.form.get("reason") or "", actor=staff_actor())
    except DomainError as error:
        return order_views.refused(order, error)
    return order_views.done(number, _("%(points)s points booked.", points=format_signed_number(points)))
