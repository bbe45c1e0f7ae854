"""JSON API v1 endpoints: parse and validate → one service call → commit → JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from portal.api import serialize, validation
from portal.api.auth import require_client
from portal.api.openapi import openapi_document
from portal.audit import Actor
from portal.errors import NotFound
from portal.extensions import csrf, db
from portal.loyalty.serialize import redemption_payload
from portal.loyalty.spending import mark_code_used
from portal.orders import service
from portal.orders.models import Order, Shipment
from portal.rate_limits import limit_api_clients
from portal.returns import service as returns_service
from portal.returns.serialize import return_payload

bp = Blueprint("api", __name__)
# The API never reads cookies: a bearer token authenticates each call, so CSRF does not apply.
csrf.exempt(bp)
limit_api_clients(bp)

T = TypeVar("T")


def _body() -> Any:
    return validation.parse_json(request.get_data(cache=False))


def _retry_on_race(operation: Callable[[], T]) -> T:
    """Run a write; if a concurrent request inserted the same key first, run it once more as an update."""
    try:
        result = operation()
        db.session.commit()
        return result
    except IntegrityError:
        db.session.rollback()
        result = operation()
        db.session.commit()
        return result


def _load_order(number: str) -> Order:
    order = db.session.scalar(
        select(Order)
        .where(Order.number == number)
        .options(
            selectinload(Order.items),
            selectinload(Order.events),
            selectinload(Order.shipments).selectinload(Shipment.items),
            selectinload(Order.shipments).selectinload(Shipment.events),
        )
    )
    if order is None:
        raise NotFound(f"No order {number!r}.", code="order_not_found")
    return order


def _order_response(number: str, status: int) -> tuple[Response, int]:
    db.session.expire_all()
    return jsonify(serialize.order(_load_order(number))), status


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document())


@bp.put("/orders/<number>")
@require_client
def put_order(number: str, actor: Actor) -> tuple[Response, int]:
    """Create or update an order."""
    validation.check_identifier(number, "number")
    data = validation.order_data(_body())
    _, created = _retry_on_race(lambda: service.upsert_order(number, data, actor))
    return _order_response(number, 201 if created else 200)


@bp.get("/orders/<ref:number>")
@require_client
def get_order(number: str, actor: Actor) -> tuple[Response, int]:
    """The order with its shipments, tracking events, returns and messages."""
    db.session.commit()  # keeps the client's last-used time
    return jsonify(serialize.order(_load_order(number))), 200


@bp.post("/orders/<ref:number>/events")
@require_client
def post_order_event(number: str, actor: Actor) -> tuple[Response, int]:
    """Record that an order was paid, fulfilled or cancelled."""
    event_type, occurred_at = validation.order_event(_body())
    order, recorded = _retry_on_race(
        lambda: service.record_order_event(number, event_type, occurred_at, actor)
    )
    body = {"number": order.number, "status": order.status, "event": event_type, "recorded": recorded}
    return jsonify(body), 201 if recorded else 200


@bp.put("/orders/<number>/shipments/<tracking_number>")
@require_client
def put_shipment(number: str, tracking_number: str, actor: Actor) -> tuple[Response, int]:
    """Create or update a shipment of an order."""
    validation.check_identifier(tracking_number, "tracking_number")
    data = validation.shipment_data(_body())
    validation.check_identifier(number, "number")
    _, created = _retry_on_race(lambda: service.upsert_shipment(number, tracking_number, data, actor))
    db.session.expire_all()
    order = _load_order(number)
    sku_by_item_id = {item.id: item.sku for item in order.items}
    current = next(s for s in order.shipments if s.tracking_number == tracking_number)
    return jsonify(serialize.shipment(current, sku_by_item_id)), 201 if created else 200


@bp.post("/tracking-events")
@require_client
def post_tracking_events(actor: Actor) -> tuple[Response, int]:
    """Store one tracking event or a batch; the same event id is stored once."""
    events = validation.tracking_events(_body(), current_app.config["API_MAX_BATCH_EVENTS"])
    result = _retry_on_race(lambda: service.ingest_tracking_events(events, actor))
    stored = set(result.stored)
    seen: set[str] = set()
    rows = []
    for event in events:
        first = event.event_id not in seen and event.event_id in stored
        seen.add(event.event_id)
        rows.append(
            {
                "event_id": event.event_id,
                "result": "stored" if first else "duplicate",
                "matched": event.tracking_number in result.known_tracking_numbers,
            }
        )
    body = {
        "received": len(events),
        "stored": len(result.stored),
        "duplicates": len(events) - len(result.stored),
        "unmatched": len(result.unmatched),
        "events": rows,
    }
    return jsonify(body), 200


@bp.get("/returns")
@require_client
def list_returns(actor: Actor) -> tuple[Response, int]:
    """Returns for the warehouse, oldest first; `status` filters, `limit` caps (default 100, at most 500)."""
    status = validation.return_status(request.args.get("status"))
    limit = validation.list_limit(request.args.get("limit"))
    found = returns_service.list_returns(status, limit=limit)
    db.session.commit()  # keeps the client's last-used time
    return jsonify({"returns": [return_payload(item) for item in found]}), 200


@bp.post("/returns/<ref:rma>/events")
@require_client
def post_return_event(rma: str, actor: Actor) -> tuple[Response, int]:
    """The warehouse reports that a return was received, refunded, credited or rejected."""
    event_type, occurred_at, note = validation.return_event(_body())
    item = returns_service.get_return(rma)
    recorded = returns_service.record_warehouse_event(
        item, event_type, actor, occurred_at=occurred_at, note=note
    )
    db.session.commit()
    body = {"rma": item.rma, "status": item.status, "event": event_type, "recorded": recorded}
    return jsonify(body), 201 if recorded else 200


@bp.post("/loyalty/codes/<ref:code>/used")
@require_client
def mark_loyalty_code_used(code: str, actor: Actor) -> tuple[Response, int]:
    """The shop's checkout took a store-credit code from a loyalty redemption (once; again is 409)."""
    redemption = mark_code_used(code, actor)
    db.session.commit()
    return jsonify(redemption_payload(redemption)), 200
