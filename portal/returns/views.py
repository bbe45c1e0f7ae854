"""Return pages: request a return, follow it, download the label."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal

from flask import Blueprint, abort, flash, g, make_response, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from portal import clock
from portal.audit import Actor
from portal.errors import Conflict, Invalid
from portal.extensions import db
from portal.htmx import render_page_or_block
from portal.orders import queries
from portal.orders.access import Viewer, current_viewer, order_for_viewer
from portal.orders.models import Order
from portal.returns import presenters, service
from portal.returns.models import METHODS, RESOLUTIONS, Return, ReturnLabel, ReturnLine
from portal.returns.service import LineRequest, ReturnRequest, line_field

bp = Blueprint("returns", __name__)

_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_QUANTITY_DIGITS = 5


def _actor(viewer: Viewer, order: Order) -> Actor:
    if viewer.user_id is not None:
        return Actor.user(viewer.user_id, viewer.label)
    return Actor("guest", f"guest of order {order.number}")


def return_for_viewer(rma: str) -> Return:
    """The return `rma` if the current viewer may see its order, else 404 (never 403)."""
    item = db.session.scalar(
        select(Return)
        .where(Return.rma == rma)
        .options(
            selectinload(Return.order),
            selectinload(Return.lines).joinedload(ReturnLine.order_item),
            selectinload(Return.events),
            selectinload(Return.label),
        )
    )
    if item is None or not current_viewer().may_see(item.order):
        abort(404)
    return item


@bp.app_template_global()
def returns_panel(order: Order) -> presenters.OrderReturnsPanel:
    """What the order page shows about returns: per item until when (or why not), and the order's returns."""
    cache: dict[int, presenters.OrderReturnsPanel] = g.setdefault("returns_panels", {})
    if order.id not in cache:
        cache[order.id] = presenters.order_panel(order, clock.now())
    return cache[order.id]


# --- requesting ---------------------------------------------------------------------------------------------


def _quantity(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if raw == "":
        return 0
    if not raw.isdigit() or len(raw) > MAX_QUANTITY_DIGITS:
        return None
    return int(raw)


def _parse_form(order: Order) -> tuple[ReturnRequest, dict[str, str]]:
    """The request as the service takes it, and the errors of fields that could not even be read."""
    form = request.form
    errors: dict[str, str] = {}
    lines = []
    for item in order.items:
        raw = form.get(line_field(item.id, "quantity"))
        if raw is None:
            continue
        quantity = _quantity(raw)
        if quantity is None:
            errors[line_field(item.id, "quantity")] = _("Enter a whole number.")
            continue
        lines.append(
            LineRequest(
                order_item_id=item.id,
                quantity=quantity,
                reason_code=form.get(line_field(item.id, "reason"), "").strip(),
                comment=form.get(line_field(item.id, "comment")),
            )
        )
    # Quantities for items that are not this order's are refused, not ignored.
    known = {line_field(item.id, "quantity") for item in order.items}
    for name in form:
        match = re.fullmatch(r"item-(\d{1,12})-quantity", name)
        if match and name not in known:
            quantity = _quantity(form.get(name))
            if quantity:
                lines.append(
                    LineRequest(int(match.group(1)), quantity, form.get(f"item-{match.group(1)}-reason", ""))
                )
    key = form.get("idempotency_key", "")
    if not _KEY.fullmatch(key):
        errors["items"] = _("This form has expired. Please reload the page and try again.")
    data = ReturnRequest(
        lines=lines,
        resolution=form.get("resolution", ""),
        method=form.get("method", ""),
        idempotency_key=key,
        exchange_wish=form.get("exchange_wish"),
    )
    return data, errors


def _render_form(
    order: Order, status: int = 200, errors: dict[str, str] | None = None, key: str | None = None
) -> Response:
    panel = presenters.order_panel(order, clock.now())
    errors = dict(errors or {})
    # Errors about items the form does not show (another order's, say) are listed at the top.
    shown = {"items", "resolution", "exchange_wish", "method"}
    shown |= {
        line_field(row.order_item_id, name)
        for row in panel.rows
        if row.eligible
        for name in ("quantity", "reason", "comment")
    }
    stray = [message for name, message in errors.items() if name not in shown]
    if stray:
        errors["items"] = " ".join(dict.fromkeys([errors.get("items", ""), *stray])).strip()
    eligible_value = sum((row.unit_price * row.remaining for row in panel.rows if row.eligible), Decimal(0))
    return render_page_or_block(
        "returns/new.html",
        "content",
        status=status,
        order=order,
        panel=panel,
        reasons=[(reason, presenters.reason_label(reason.code)) for reason in service.reasons()],
        resolutions=[(code, presenters.RESOLUTION_LABELS[code]) for code in RESOLUTIONS],
        methods=[(code, presenters.METHOD_LABELS[code]) for code in METHODS],
        bonus_percent=presenters.bonus_percent(),
        bonus_example=service.credit_bonus_for(eligible_value, order.currency),
        errors=errors,
        values=request.form if request.method == "POST" else {},
        idempotency_key=key or secrets.token_urlsafe(24),
    )


@bp.get("/orders/<ref:number>/returns/new")
def new(number: str) -> Response:
    """The return form: items and quantities, a reason per item, refund/credit/exchange, label or QR code."""
    order = order_for_viewer(number, queries.ORDER_PAGE_OPTIONS)
    return _render_form(order)


@bp.post("/orders/<ref:number>/returns/new")
def create(number: str) -> Response:
    """Create the return (a double submit finds the first one) and show it."""
    order = order_for_viewer(number, queries.ORDER_PAGE_OPTIONS)
    viewer = current_viewer()
    data, errors = _parse_form(order)
    if errors:
        return _render_form(
            order, 422, errors, key=data.idempotency_key if _KEY.fullmatch(data.idempotency_key) else None
        )
    try:
        item, created = service.request_return(
            order, data, _actor(viewer, order), requested_by_user_id=viewer.user_id
        )
        db.session.commit()
    except Invalid as invalid:
        db.session.rollback()
        return _render_form(order, 422, invalid.fields, key=data.idempotency_key)
    except Conflict as conflict:
        db.session.rollback()
        return _render_form(order, 409, {"items": conflict.message})
    except IntegrityError:
        # The same form submitted twice at once: the other request created the return.
        db.session.rollback()
        existing = service.find_by_idempotency_key(data.idempotency_key)
        if existing is None or existing.order_id != order.id:
            raise
        item, created = existing, False
    if created:
        if item.status == "requested":
            flash(_("Thank you. We will look at your return and write to you shortly."), "success")
        else:
            flash(_("Your return is approved. Your label is being prepared."), "success")
    return redirect(url_for(".detail", rma=item.rma), code=303)


# --- following a return -------------------------------------------------------------------------------------


@bp.get("/returns/<ref:rma>")
def detail(rma: str) -> Response:
    """The return's status and timeline; while the label is made, htmx polls this URL for the label block."""
    item = return_for_viewer(rma)
    view = presenters.present_return(item)
    return render_page_or_block("returns/detail.html", "label_status", view=view)


@bp.post("/returns/<ref:rma>/cancel")
def cancel(rma: str) -> Response:
    """The shopper withdraws the return (until the parcel is on its way)."""
    item = return_for_viewer(rma)
    try:
        service.cancel_return(item, _actor(current_viewer(), item.order))
        db.session.commit()
    except Conflict:
        db.session.rollback()
        flash(_("This return can no longer be cancelled: the parcel is already on its way."), "error")
        return redirect(url_for(".detail", rma=rma), code=303)
    flash(_("Your return is cancelled."), "success")
    return redirect(url_for(".detail", rma=rma), code=303)


@bp.get("/returns/<ref:rma>/label.pdf")
def label_pdf(rma: str) -> Response:
    """The label PDF for whoever may see the return; 404 for anyone else and while it is not ready."""
    item = return_for_viewer(rma)
    pdf = db.session.scalar(
        select(ReturnLabel.pdf).where(ReturnLabel.return_id == item.id, ReturnLabel.state == "ready")
    )
    if pdf is None or item.status in ("cancelled", "rejected"):
        abort(404)
    response = make_response(bytes(pdf))
    response.headers["Content-Type"] = "application/pdf"
    disposition = "attachment" if request.args.get("download") else "inline"
    # The RMA holds only [A-Z0-9-]: a safe file name as it is.
    response.headers["Content-Disposition"] = f'{disposition}; filename="return-label-{item.rma}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
