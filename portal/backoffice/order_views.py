"""One order for staff: its whole timeline and what staff can do to it."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, url_for
from flask_babel import get_timezone, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from portal.backoffice import actions, labels, timeline
from portal.backoffice.forms import StopSequenceForm, TrackingEventForm
from portal.backoffice.views import bp, staff_actor
from portal.errors import DomainError, Invalid
from portal.extensions import db
from portal.htmx import render_page_or_block
from portal.messaging.service import messages_of_order
from portal.orders import queries
from portal.orders.models import TRACKING_STATUSES, Order

# Extra panels other areas add to the order page (returns to review, points to adjust): a function from the
# order to (template name, context) or None; each template renders one panel.
ORDER_PANELS: list[Any] = []


def load_order(number: str) -> Order:
    """The order with everything its page shows, or 404."""
    order = db.session.scalar(
        select(Order).where(Order.number == number).options(*queries.ORDER_PAGE_OPTIONS)
    )
    if order is None:
        abort(404)
    return order


def _tracking_form(order: Order, form: TrackingEventForm | None = None) -> TrackingEventForm:
    form = form or TrackingEventForm(prefix="event")
    form.tracking_number.choices = [
        SelectChoice(s.tracking_number, f"{s.tracking_number} ({s.carrier})") for s in order.shipments
    ]
    form.status.choices = [SelectChoice(code, labels.tracking_status(code)) for code in TRACKING_STATUSES]
    return form


def _render(order: Order, status: int = 200, **forms: Any) -> Response:
    panels = [panel for panel in (source(order) for source in ORDER_PANELS) if panel is not None]
    return render_page_or_block(
        "backoffice/order.html",
        "content",
        status=status,
        order=order,
        entries=timeline.order_timeline(order),
        messages=messages_of_order(order.id),
        stop=actions.sequence_stop(order),
        event_form=forms.get("event_form") or _tracking_form(order),
        stop_form=forms.get("stop_form") or StopSequenceForm(prefix="stop"),
        panels=panels,
    )


@bp.get("/orders/<ref:number>")
def order(number: str) -> Response:
    """The order's whole story, newest first, with the actions staff may take."""
    return _render(load_order(number))


def done(number: str, message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    return redirect(url_for(".order", number=number), 303)


def refused(order: Order, error: DomainError, **forms: Any) -> Response:
    db.session.rollback()
    flash(error.message, "error")
    order = load_order(order.number)
    return _render(order, status=error.status, **forms)


@bp.post("/orders/<ref:number>/tracking-events")
def add_tracking_event(number: str) -> Response:
    """Add a tracking event by hand; the status rules and messages apply as for the carrier's events."""
    order = load_order(number)
    form = _tracking_form(order, TrackingEventForm(prefix="event"))
    if not form.validate():
        return _render(order, status=422, event_form=form)
    assert form.occurred_at.data is not None
    occurred_at = form.occurred_at.data.replace(tzinfo=ZoneInfo(str(get_timezone())))
    try:
        actions.add_tracking_event(
            order,
            form.tracking_number.data or "",
            form.status.data or "",
            occurred_at,
            form.description.data,
            staff_actor(),
        )
    except Invalid as error:
        for name, text in error.fields.items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, text]
        return refused(order, error, event_form=form)
    except DomainError as error:
        return refused(order, error, event_form=form)
    return done(number, _("The tracking event was added."))


@bp.post("/orders/<ref:number>/messages/<int:message_id>/resend")
def resend_message(number: str, message_id: int) -> Response:
    """Send one of the order's messages again now."""
    order = load_order(number)
    try:
        actions.resend_message(order, message_id, staff_actor())
    except DomainError as error:
        return refused(order, error)
    return done(number, _("The message will be sent again within a minute."))


@bp.post("/orders/<ref:number>/sequence/stop")
def stop_sequence(number: str) -> Response:
    """Stop every message of the order that has not gone out yet."""
    order = load_order(number)
    form = StopSequenceForm(prefix="stop")
    if not form.validate():
        return _render(order, status=422, stop_form=form)
    try:
        skipped = actions.stop_sequence(order, staff_actor(), form.reason.data)
    except DomainError as error:
        return refused(order, error, stop_form=form)
    return done(
        number,
        ngettext(
            "The sequence is stopped; %(count)d waiting message will not be sent.",
            "The sequence is stopped; %(count)d waiting messages will not be sent.",
            skipped,
            count=skipped,
        ),
    )


@bp.post("/orders/<ref:number>/sequence/resume")
def resume_sequence(number: str) -> Response:
    """Let the order's messages go out again."""
    order = load_order(number)
    try:
        actions.resume_sequence(order, staff_actor())
    except DomainError as error:
        return refused(order, error)
    return done(number, _("The sequence is running again."))
