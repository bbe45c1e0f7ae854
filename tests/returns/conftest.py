"""Orders whose parcels were delivered, ready to be returned, and small helpers for the return pages."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.orders.models import Order, OrderItem
from tests.factories import event_body, order_body, shipment_body

DELIVERED_AT = "2026-11-12T12:00:00+00:00"
TODAY = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def today() -> Iterator[datetime]:
    """The house clock frozen eight days after the delivery."""
    with clock.freeze(TODAY):
        yield TODAY


def delivered_order(
    api: Any, number: str = "1001", delivered_at: str = DELIVERED_AT, **overrides: Any
) -> Order:
    """Order `number` (2 T-shirts at 19.95 returnable, a cap that is not) with its parcel delivered."""
    assert api.put(f"/orders/{number}", json=order_body(**overrides)).status_code == 201
    shipment = shipment_body(items=[{"sku": "TEE-BLK-M", "quantity": 2}, {"sku": "CAP-01", "quantity": 1}])
    assert api.put(f"/orders/{number}/shipments/T{number}", json=shipment).status_code == 201
    event = event_body(f"{number}-delivered", "delivered", delivered_at, tracking_number=f"T{number}")
    assert api.post("/tracking-events", json=event).status_code == 200
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None
    return order


def item_id(number: str, sku: str) -> int:
    found = db.session.scalar(
        select(OrderItem.id).join(Order).where(Order.number == number, OrderItem.sku == sku)
    )
    assert found is not None
    return found


def form_key(html: str) -> str:
    match = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert match, "no idempotency key on the form"
    return match.group(1)


def return_form(client: Any, number: str = "1001", **fields: str) -> dict[str, str]:
    """The return form's fields as the page gives them (CSRF token, key), with `fields` filled in."""
    from tests.conftest import csrf_token

    page = client.get(f"/orders/{number}/returns/new")
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    tee = item_id(number, "TEE-BLK-M")
    body = {
        "csrf_token": csrf_token(html),
        "idempotency_key": form_key(html),
        f"item-{tee}-quantity": "1",
        f"item-{tee}-reason": "too_small",
        f"item-{tee}-comment": "",
        "resolution": "refund",
        "exchange_wish": "",
        "method": "label",
    }
    body.update(fields)
    return body
