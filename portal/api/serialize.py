"""Orders and shipments as the API's JSON (shapes documented in schemas.ORDER_OUTPUT)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision

from portal.messaging.models import Message
from portal.messaging.service import messages_of_order
from portal.orders import instructions
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Order, Shipment, TrackingEvent
from portal.returns.serialize import return_payload
from portal.returns.service import returns_of_order


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def money(amount: Decimal, currency: str) -> str:
    places = get_currency_precision(currency)
    return str(amount.quantize(Decimal(1).scaleb(-places)))


def window(earliest: datetime | None, latest: datetime | None) -> dict[str, str] | None:
    if earliest is None or latest is None:
        return None
    return {"earliest": earliest.isoformat(), "latest": latest.isoformat()}


def tracking_event(event: TrackingEvent) -> dict[str, Any]:
    has_location = any(v is not None for v in (event.city, event.region, event.country, event.lat, event.lon))
    return {
        "event_id": event.event_id,
        "status": event.status,
        "occurred_at": iso(event.occurred_at),
        "description": event.description,
        "raw_status": event.raw_status,
        "location": {
            "city": event.city,
            "region": event.region,
            "country": event.country,
            "lat": event.lat,
            "lon": event.lon,
        }
        if has_location
        else None,
    }


def shipment(
    item: Shipment,
    sku_by_item_id: dict[int, str],
    current_instructions: Mapping[int, DeliveryInstructionVersion] | None = None,
) -> dict[str, Any]:
    """`current_instructions` (shipment id -> version) saves a query per shipment when serialising many."""
    if current_instructions is None:
        current_instructions = instructions.current_versions([item.id])
    version = current_instructions.get(item.id)
    return {
        "tracking_number": item.tracking_number,
        "carrier": item.carrier,
        "service": item.service,
        "shipped_at": iso(item.shipped_at),
        "status": item.status,
        "last_event_at": iso(item.last_event_at),
        "delivered_at": iso(item.delivered_at),
        "items": [
            {"sku": sku_by_item_id[line.order_item_id], "quantity": line.quantity} for line in item.items
        ],
        "promised_delivery": window(item.promised_earliest, item.promised_latest),
        "predicted_delivery": window(item.predicted_earliest, item.predicted_latest),
        "instructions": instructions.instructions_payload(version) if version is not None else None,
        "tracking_events": [tracking_event(event) for event in reversed(item.events)],
    }


def order(item: Order) -> dict[str, Any]:
    sku_by_item_id = {line.id: line.sku for line in item.items}
    current_instructions = instructions.current_versions(s.id for s in item.shipments)
    return {
        "number": item.number,
        "email": item.email,
        "customer_name": item.customer_name,
        "phone": item.phone,
        "locale": item.locale,
        "placed_at": iso(item.placed_at),
        "currency": item.currency,
        "total": money(item.total, item.currency),
        "status": item.status,
        "shipping_address": {
            "name": item.ship_name,
            "line1": item.ship_line1,
            "line2": item.ship_line2,
            "city": item.ship_city,
            "postal_code": item.ship_postal_code,
            "region": item.ship_region,
            "country": item.ship_country,
        },
        "items": [
            {
                "sku": line.sku,
                "name": line.name,
                "variant": line.variant,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price, item.currency),
                "returnable": line.returnable,
                "image_url": line.image_url,
            }
            for line in item.items
        ],
        "events": [{"type": event.type, "occurred_at": iso(event.occurred_at)} for event in item.events],
        "shipments": [shipment(s, sku_by_item_id, current_instructions) for s in item.shipments],
        "returns": [return_payload(r) for r in returns_of_order(item.id)],
        "messages": [message(m) for m in messages_of_order(item.id)],
    }


def message(item: Message) -> dict[str, Any]:
    return {
        "step": item.step,
        "channel": item.channel,
        "status": item.status,
        "reason": item.skip_reason or (item.last_error if item.status == "failed" else None),
        "tracking_number": item.shipment.tracking_number if item.shipment is not None else None,
        "attempts": item.attempts,
        "due_at": iso(item.due_at),
        "sent_at": iso(item.sent_at),
    }
