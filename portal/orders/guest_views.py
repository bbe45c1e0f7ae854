"""Guest access: look an order up by number + email, or get a single-use link to it by email."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from flask import Blueprint, current_app, redirect, request, url_for
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from portal.extensions import db, limiter
from portal.htmx import render_page_or_block
from portal.orders import guest
from portal.orders.access import grant_order_access
from portal.orders.guest_forms import GuestLookupForm
from portal.rate_limits import configured_limit

bp = Blueprint("guest", __name__)


def _order_key() -> str:
    return "order:" + guest.order_number_key(request.form.get("order_number", ""))


def _no_usable_order_number() -> bool:
    # The form rejects it anyway; the per-IP limit still counts the attempt.
    return not guest.order_number_key(request.form.get("order_number", ""))


def _lookup_failed(response: Response) -> bool:
    # Only failures count: the form came back, either with field errors or with "could not find".
    return response.status_code in (200, 422)


@bp.get("/track")
def lookup_form() -> Response:
    """The guest lookup form, with the choice to be sent a link by email instead."""
    return _render_lookup(GuestLookupForm())


@bp.post("/track")
@limiter.limit(
    configured_limit("GUEST_LOOKUP_LIMIT_IP"), key_func=get_remote_address, deduct_when=_lookup_failed
)
@limiter.limit(
    configured_limit("GUEST_LOOKUP_LIMIT_ORDER"),
    key_func=_order_key,
    exempt_when=_no_usable_order_number,
    deduct_when=_lookup_failed,
)
def lookup() -> Response:
    """Look an order up by number + email; on success this browser may see it for a few hours."""
    form = GuestLookupForm()
    if not form.validate_on_submit():
        return _render_lookup(form, status=422)
    try:
        order = guest.look_up_order(form.order_number.data or "", form.email.data or "")
    except guest.GuestLookupFailed:
        # The same page whether the number is unknown or the email does not match it.
        return _render_lookup(form, not_found=True)
    grant_order_access(order.id)
    return redirect(_order_page(order.number), code=303)


@bp.post("/track/link")
@limiter.limit(configured_limit("GUEST_LINK_LIMIT_IP"), key_func=get_remote_address)
@limiter.limit(
    configured_limit("GUEST_LINK_LIMIT_ORDER"), key_func=_order_key, exempt_when=_no_usable_order_number
)
def request_link() -> Response:
    """Email a single-use link to the address on the order; the answer never says whether one matched."""
    form = GuestLookupForm()
    if not form.validate_on_submit():
        return _render_lookup(form, status=422)
    minutes = int(current_app.config["GUEST_LINK_MINUTES"])
    guest.request_guest_link(form.order_number.data or "", form.email.data or "", timedelta(minutes=minutes))
    db.session.commit()
    return render_page_or_block("guest/link_sent.html", "content", minutes=minutes)


@bp.get("/track/link/<token>")
def confirm_link(token: str) -> Response:
    """Ask before using the link up: mail scanners follow links, and a GET must change nothing."""
    try:
        link = guest.check_guest_link(token)
    except guest.GuestLinkInvalid:
        return _render_link_invalid()
    return render_page_or_block("guest/confirm_link.html", "content", token=token, order=link.order)


@bp.post("/track/link/<token>")
def redeem_link(token: str) -> Response:
    """Use the link: this browser may now see its order for a few hours."""
    try:
        order = guest.redeem_guest_link(token)
    except guest.GuestLinkInvalid:
        db.session.rollback()
        return _render_link_invalid()
    db.session.commit()
    grant_order_access(order.id)
    return redirect(_order_page(order.number), code=303)


def _render_lookup(form: GuestLookupForm, *, status: int = 200, not_found: bool = False) -> Response:
    return render_page_or_block("guest/lookup.html", "content", status=status, form=form, not_found=not_found)


def _render_link_invalid() -> Response:
    return render_page_or_block("guest/link_invalid.html", "content", status=410)


def _order_page(number: str) -> str:
    # The order page belongs to the orders blueprint; its path is part of the public contract.
    if "orders.order_detail" in current_app.view_functions:
        return url_for("orders.order_detail", number=number)
    return f"{request.script_root}/orders/{quote(number, safe='')}"
