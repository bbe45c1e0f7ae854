"""Request bodies for the JSON API with sensible defaults; tests override what they care about."""

from __future__ import annotations

from typing import Any


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": "Ada.Lovelace@Example.com",
        "customer_name": "Ada Lovelace",
        "phone": "+49 30 1234567",
        "locale": "de",
        "placed_at": "2026-10-10T09:30:00+02:00",
        "currency": "EUR",
        "total": "89.90",
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "Hauptstraße 1",
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
        },
        "items": [
            {
                "sku": "TEE-BLK-M",
                "name": "T-shirt",
                "variant": "Black / M",
                "quantity": 2,
                "unit_price": "19.95",
            },
            {"sku": "CAP-01", "name": "Cap", "quantity": 1, "unit_price": "50.00", "returnable": False},
        ],
    }
    body.update(overrides)
    return body


def shipment_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "carrier": "DHL",
        "service": "Paket",
        "shipped_at": "2026-10-11T08:00:00+02:00",
        "items": [{"sku": "TEE-BLK-M", "quantity": 2}],
        "promised_delivery": {"earliest": "2026-10-13T08:00:00+02:00", "latest": "2026-10-15T20:00:00+02:00"},
    }
    body.update(overrides)
    return body


def event_body(
    event_id: str, status: str, occurred_at: str, tracking_number: str = "JJD0001", **extra: Any
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "tracking_number": tracking_number,
        "status": status,
        "occurred_at": occurred_at,
        **extra,
    }
