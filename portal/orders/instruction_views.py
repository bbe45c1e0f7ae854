"""Delivery instructions pages: the panel on the order page, its inline form (htmx), and the same form as
a page for browsers without JavaScript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from werkzeug.wrappers import Response

from portal import clock
from portal.errors import Invalid
from portal.extensions import db
from portal.htmx import render_page_or_block, wants_fragment
from portal.orders import instructions
from portal.orders.access import current_viewer, order_for_viewer
from portal.orders.instruction_forms import (
    DeliveryInstructionsForm,
    form_prefix,
    initial_data,
)
from portal.orders.instruction_rules import EditWindow, InstructionRules, edit_window
from portal.orders.instructions import InstructionsChanged, InstructionsClosed
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Order, Shipment

bp = Blueprint("instructions", __name__)

PAGE = "instructions/page.html"
BLOCK = "instructions"
# Which part of the instructions each stored field belongs to, for "what changed" in the history.
CHANGE_LABELS: dict[str, LazyString] = {
    "safe_place": _l("safe place"),
    "safe_place_other": _l("safe place"),
    "neighbour_name": _l("neighbour"),
    "neighbour_house_number": _l("neighbour"),
    "access_code": _l("access code"),
    "note": _l("note"),
    "preferred_date": _l("preferred day"),
}
CHANGED_BY_LABELS: dict[str, LazyString] = {
    "customer": _l("Customer"),
    "guest": _l("Customer (order lookup)"),
    "staff": _l("Customer service"),
}


@dataclass(frozen=True)
class HistoryEntry:
    version: int
    at: datetime
    who: str
    changes: str


@dataclass(frozen=True)
class Panel:
    """One parcel's instructions as the pages show them: plain values, no queries."""

    order_number: str
    tracking_number: str
    element_id: str
    current: DeliveryInstructionVersion | None
    rows: list[tuple[str, str]]
    history: list[HistoryEntry]
    window: EditWindow
    hide_access_code: bool
    show_url: str
    edit_url: str
    order_url: str


def _rules() -> InstructionRules:
    return InstructionRules.from_config(current_app.config)


def _history(versions: list[DeliveryInstructionVersion], staff: bool) -> list[HistoryEntry]:
    entries = []
    for version in versions:
        who = str(CHANGED_BY_LABELS.get(version.changed_by_role, version.changed_by_role))
        if staff and version.changed_by_label:
            who = f"{who} ({version.changed_by_label})"
        parts = dict.fromkeys(
            str(CHANGE_LABELS[name]) for name in version.changed_fields if name in CHANGE_LABELS
        )
        changes = ", ".join(parts) if parts else _("instructions removed")
        entries.append(HistoryEntry(version.version, version.created_at, who, changes))
    return entries


def _panel(
    order: Order, shipment: Shipment, versions: list[DeliveryInstructionVersion], guest: bool
) -> Panel:
    current = versions[0] if versions else None
    hide_access_code = guest  # staff are never guests
    urls: dict[str, Any] = {"number": order.number, "tracking_number": shipment.tracking_number}
    return Panel(
        order_number=order.number,
        tracking_number=shipment.tracking_number,
        element_id=form_prefix(shipment.tracking_number) + "-instructions",
        current=current,
        rows=instructions.summary_rows(current, access_code="hide" if hide_access_code else "show"),
        history=_history(versions, current_viewer().is_staff),
        window=edit_window(shipment, current, _rules(), clock.now()),
        hide_access_code=hide_access_code,
        show_url=url_for("instructions.show", **urls),
        edit_url=url_for("instructions.edit", **urls),
        order_url=url_for(
            "orders.order_detail", number=order.number, _anchor=f"parcel-{shipment.tracking_number}"
        ),
    )


@bp.app_template_global()
def delivery_instructions_panel(order: Order, tracking_number: str, guest: bool) -> Panel | None:
    """The panel of one parcel on the order page; the whole order's instructions load in one statement."""
    cache: dict[int, dict[str, Panel]] = g.setdefault("delivery_instruction_panels", {})
    if order.id not in cache:
        versions = instructions.histories(shipment.id for shipment in order.shipments)
        cache[order.id] = {
            shipment.tracking_number: _panel(order, shipment, versions[shipment.id], guest)
            for shipment in order.shipments
        }
    return cache[order.id].get(tracking_number)


def _load(number: str, tracking_number: str) -> Panel:
    """The panel of a parcel the current viewer may see; 404 otherwise."""
    order = order_for_viewer(number)
    shipment = next((s for s in order.shipments if s.tracking_number == tracking_number), None)
    if shipment is None:
        abort(404)
    versions = instructions.histories([shipment.id])[shipment.id]
    return _panel(order, shipment, versions, current_viewer().is_guest_for(order))


def _form(panel: Panel, **kwargs: Any) -> DeliveryInstructionsForm:
    return DeliveryInstructionsForm(
        allowed_dates=panel.window.allowed_dates,
        current=panel.current,
        hide_access_code=panel.hide_access_code,
        prefix=form_prefix(panel.tracking_number),
        **kwargs,
    )


def _render(panel: Panel, status: int = 200, **context: Any) -> Response:
    context = {"form": None, "message": None, "stale": False, "focus": False, **context}
    context.setdefault("message_kind", "success" if status < 400 else "warning")
    return render_page_or_block(PAGE, BLOCK, status=status, panel=panel, inline=wants_fragment(), **context)


@bp.get("/orders/<number>/shipments/<tracking_number>/instructions")
def show(number: str, tracking_number: str) -> Response:
    """The parcel's instructions: the panel for htmx; a page with the form (or why it is closed) otherwise."""
    panel = _load(number, tracking_number)
    if wants_fragment() or not panel.window.is_open:
        return _render(panel, focus=wants_fragment())
    return _render(panel, form=_form(panel, data=initial_data(panel.current, panel.hide_access_code)))


@bp.get("/orders/<number>/shipments/<tracking_number>/instructions/edit")
def edit(number: str, tracking_number: str) -> Response:
    """The inline form that replaces the panel (htmx); without htmx, the page that holds the same form."""
    if not wants_fragment():
        return redirect(url_for(".show", number=number, tracking_number=tracking_number))
    panel = _load(number, tracking_number)
    if not panel.window.is_open:
        return _render(panel, focus=True)
    return _render(panel, form=_form(panel, data=initial_data(panel.current, panel.hide_access_code)))


@bp.post("/orders/<number>/shipments/<tracking_number>/instructions")
def save(number: str, tracking_number: str) -> Response:
    """Save the instructions as a new version; htmx gets the panel back, a plain post returns to the order."""
    panel = _load(number, tracking_number)
    form = _form(panel)
    if not panel.window.is_open:
        return _render(panel, status=409, message=_("Your changes could not be saved."), focus=True)
    if not form.validate_on_submit():
        return _render(panel, status=422, form=form)
    try:
        change = instructions.change_delivery_instructions(
            number,
            tracking_number,
            form.instructions(),
            based_on=form.based_on(),
            viewer=current_viewer(),
            rules=_rules(),
            now=clock.now(),
        )
    except InstructionsClosed:
        db.session.rollback()
        fresh = _load(number, tracking_number)
        return _render(fresh, status=409, message=_("Your changes could not be saved."), focus=True)
    except Invalid as invalid:
        db.session.rollback()
        form.show_problems(invalid.fields)
        return _render(panel, status=422, form=form)
    except InstructionsChanged:
        db.session.rollback()
        fresh = _load(number, tracking_number)
        form.version.data = str(fresh.current.version if fresh.current else 0)
        return _render(fresh, status=409, form=form, stale=True)
    db.session.commit()
    message = _("Saved. We have passed your instructions on.") if change.changed else _("Nothing changed.")
    if not wants_fragment():
        flash(message, "success")
        return redirect(panel.order_url, code=303)
    fresh = _load(number, tracking_number)
    return _render(fresh, message=message, focus=True)
