"""A return as plain JSON values: the API's `returns` and the bodies of the return webhooks."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.numbers import get_currency_precision

from portal.returns.models import Return


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _money(amount: Decimal, currency: str) -> str:
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-get_currency_precision(currency))))


def return_payload(item: Return) -> dict[str, Any]:
    label = item.label
    return {
        "rma": item.rma,
        "order_number": item.order.number,
        "status": item.status,
        "resolution": item.resolution,
        "exchange_wish": item.exchange_wish,
        "method": item.method,
        "currency": item.currency,
        "refund_amount": _money(item.refund_amount, item.currency),
        "credit_bonus": _money(item.credit_bonus, item.currency),
        "tracking_number": item.tracking_number,
        "review_rule": item.review_rule,
        "created_at": _iso(item.created_at),
        "lines": [
            {
                "sku": line.order_item.sku,
                "name": line.order_item.name,
                "variant": line.order_item.variant,
                "quantity": line.quantity,
                "reason": line.reason_code,
                "comment": line.comment,
            }
            for line in item.lines
        ],
        "label": {
            "state": label.state,
            "sha256": label.sha256,
            "generated_at": _iso(label.generated_at),
        }
        if label is not None
        else None,
        "events": [
            {"status": event.status, "occurred_at": _iso(event.occurred_at), "note": event.note}
            for event in item.events
        ],
    }
