"""What the JSON API says about a redeemed store-credit code, and its JSON Schema for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from portal.loyalty.models import Redemption

REDEMPTION_OUTPUT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["redemption_id", "code_hint", "points", "value", "currency", "redeemed_at", "used_at"],
    "properties": {
        "redemption_id": {"type": "integer"},
        "code_hint": {"type": "string", "description": "The code's last four characters"},
        "points": {"type": "integer", "minimum": 1},
        "value": {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "redeemed_at": {"type": "string", "format": "date-time"},
        "used_at": {"type": ["string", "null"], "format": "date-time"},
    },
}


def redemption_payload(redemption: Redemption) -> dict[str, Any]:
    return {
        "redemption_id": redemption.id,
        "code_hint": redemption.code_hint,
        "points": redemption.points,
        "value": f"{redemption.value:.2f}",
        "currency": redemption.currency,
        "redeemed_at": redemption.created_at.isoformat(),
        "used_at": redemption.used_at.isoformat() if redemption.used_at else None,
    }
