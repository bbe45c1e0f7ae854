"""Shoppers with delivered orders, and small helpers to read the ledger, for the loyalty tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from portal.loyalty.ledger import Balance, balance_of
from portal.loyalty.models import LedgerEntry
from portal.orders.models import Order, OrderItem, Shipment
from tests.factories import event_body, order_body, shipment_body

PLACED = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)
DELIVERED = "2026-10-13T12:00:00+00:00"
DELIVERED_AT = datetime(2026, 10, 13, 12, 0, tzinfo=UTC)
# RETURN_WINDOW_DAYS is 30: the points of a delivery on 13 October are pending until 12 November, noon.
WINDOW_CLOSES = datetime(2026, 11, 12, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[datetime]:
    """The house clock frozen just after the order was placed."""
    with clock.freeze(PLACED):
        yield PLACED


def make_shopper(email: str = "ada.lovelace@example.com", role: str = "shopper") -> User:
    user = create_user(email, "correct-horse-battery-staple", role=role, name="Ada", verified=True)
    db.session.commit()
    return user


def place(api: Any, number: str = "1001", **overrides: Any) -> Order:
    """Order `number`: 2 T-shirts at 19.95 and a cap at 50.00, for ada.lovelace@example.com."""
    assert api.put(f"/orders/{number}", json=order_body(**overrides)).status_code == 201
    order = db.session.scalar(select(Order).where(Order.number == number))
    assert order is not None
    return order


def ship(api: Any, number: str, tracking_number: str, items: list[dict[str, Any]]) -> None:
    response = api.put(f"/orders/{number}/shipments/{tracking_number}", json=shipment_body(items=items))
    assert response.status_code == 201, response.json


def deliver(api: Any, tracking_number: str, at: str = DELIVERED, event_id: str | None = None) -> None:
    event = event_body(
        event_id or f"{tracking_number}-delivered", "delivered", at, tracking_number=tracking_number
    )
    assert api.post("/tracking-events", json=event).status_code == 200


def delivered_order(api: Any, number: str = "1001", at: str = DELIVERED, **overrides: Any) -> Order:
    """The order in two parcels (T-shirts; cap), both delivered at `at`."""
    order = place(api, number, **overrides)
    ship(api, number, f"T{number}", [{"sku": "TEE-BLK-M", "quantity": 2}])
    ship(api, number, f"C{number}", [{"sku": "CAP-01", "quantity": 1}])
    deliver(api, f"T{number}", at)
    deliver(api, f"C{number}", at)
    db.session.expire_all()
    return order


def item_id(number: str, sku: str) -> int:
    found = db.session.scalar(
        select(OrderItem.id).join(Order).where(Order.number == number, OrderItem.sku == sku)
    )
    assert found is not None
    return found


def shipment(tracking_number: str) -> Shipment:
    found = db.session.scalar(select(Shipment).where(Shipment.tracking_number == tracking_number))
    assert found is not None
    return found


def entries(customer_id: int, kind: str | None = None) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id).order_by(LedgerEntry.id)
    if kind is not None:
        query = query.where(LedgerEntry.kind == kind)
    return list(db.session.scalars(query))


def balance(customer_id: int) -> Balance:
    db.session.expire_all()
    return balance_of(customer_id)


def sign_in(client: Any, user: User) -> None:
    """Put the user in the session the way Flask-Login does after a successful sign-in."""
    with client.session_transaction() as session:
        session["_user_id"] = user.auth_id
        session["_fresh"] = True


def grant(client: Any, number: str) -> None:
    """Let the client's session see order `number` as a guest (as after a lookup)."""
    order_id = db.session.scalar(select(Order.id).where(Order.number == number))
    with client.session_transaction() as session:
        session["order_grants"] = {str(order_id): time.time() + 3600}


def html(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


class StandInReturn:
    """The sender of `return_received` as the loyalty receiver reads it (id and RMA)."""

    def __init__(self, id: int, rma: str):
        self.id = id
        self.rma = rma
