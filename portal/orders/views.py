"""The shopper's order list and the order tracking page (with its self-refreshing parcel cards)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal import fragments
from portal.htmx import render_page_or_block, wants_fragment
from portal.orders import presenters, queries
from portal.orders.access import current_viewer, order_for_viewer

bp = Blueprint("orders", __name__)

ORDERS_PER_PAGE = 20


@bp.get("/orders")
@login_required
def order_list() -> Response:
    """The signed-in shopper's orders, newest first, paginated (stored until one of them changes)."""
    page = request.args.get("page", 1, type=int)
    customer_id = current_user.id

    def context() -> dict[str, Any]:
        total = queries.count_orders_of_customer(customer_id)
        pages = max(1, -(-total // ORDERS_PER_PAGE))
        if not 1 <= page <= pages:
            abort(404)
        orders = queries.orders_of_customer(customer_id, page=page, per_page=ORDERS_PER_PAGE)
        summaries = [presenters.summarise_order(order) for order in orders]
        return {"summaries": summaries, "page": page, "pages": pages, "total": total}

    return fragments.render_page_or_block(
        "orders/list.html", "order_list", f"customer:{customer_id}", ("orders", str(page)), context
    )


@bp.get("/orders/<ref:number>")
def order_detail(number: str) -> Response:
    """One order: items, each parcel's status and timeline, delivery window and what can be done next.

    The main part is rendered once per order, viewer kind and language, and kept until the order changes
    (portal/fragments.py); access is checked on every request before anything stored is served.
    """
    order = order_for_viewer(number, () if fragments.enabled() else queries.ORDER_PAGE_OPTIONS)
    kind = current_viewer().kind_for(order)

    def context() -> dict[str, Any]:
        full = queries.with_page_rows(order)
        return {
            "order": full,
            "view": presenters.present_order(full, guest=kind == "guest"),
            "refresh_seconds": current_app.config["ORDER_REFRESH_SECONDS"],
        }

    return fragments.render_page_or_block(
        "orders/detail.html", "content", f"order:{order.id}", ("order", kind), context, number=order.number
    )


@bp.get("/orders/<ref:number>/shipments/<ref:tracking_number>")
def shipment_card(number: str, tracking_number: str) -> Response:
    """One parcel's status card: the fragment the order page polls while the parcel is on its way."""
    order = order_for_viewer(number, queries.ORDER_PAGE_OPTIONS)
    view = presenters.present_order(order, guest=current_viewer().is_guest_for(order))
    parcel = next((p for p in view.parcels if p.tracking_number == tracking_number), None)
    if parcel is None:
        abort(404)
    if not wants_fragment():
        return redirect(url_for(".order_detail", number=number, _anchor=parcel.anchor))
    return render_page_or_block(
        "orders/detail.html",
        "parcel_card",
        order=order,
        view=view,
        parcel=parcel,
        refresh_seconds=current_app.config["ORDER_REFRESH_SECONDS"],
    )
