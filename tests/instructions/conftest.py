"""Helpers for the delivery instructions tests: an order with one parcel, a frozen clock, posting the form."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from sqlalchemy import select

from portal import clock
from portal.accounts import service as accounts_service
from portal.extensions import db
from portal.orders.access import Viewer
from portal.orders.instruction_forms import form_prefix
from portal.orders.instruction_rules import InstructionRules
from portal.orders.models import Order, Shipment
from tests.conftest import csrf_token
from tests.orders.test_views import make_order

# The factory parcel is promised for Tuesday 13 October 2026 from 08:00 (+02:00), i.e. 07:00 in London, the
# test app's DEFAULT_TIMEZONE. The default cut-off is 06:00 London time (05:00 UTC) on the delivery day.
MONDAY_MORNING = datetime(2026, 10, 12, 9, 0, tzinfo=UTC)
CUTOFF_ON_TUESDAY = datetime(2026, 10, 13, 5, 0, tzinfo=UTC)
PAGE = "/orders/1001/shipments/T1001/instructions"
HTMX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@pytest.fixture
def monday() -> Iterator[datetime]:
    """The clock stands still on the Monday before the promised delivery."""
    with clock.freeze(MONDAY_MORNING):
        yield MONDAY_MORNING


@pytest.fixture
def parcel(api: Any, monday: datetime) -> Shipment:
    """Order 1001 (a guest order unless an account with its e-mail exists) with parcel T1001 in transit."""
    make_order(api, "1001")
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    assert shipment is not None
    return shipment


@pytest.fixture
def rules(app: Flask) -> InstructionRules:
    return InstructionRules.from_config(app.config)


def order_id(number: str = "1001") -> int:
    found = db.session.scalar(select(Order.id).where(Order.number == number))
    assert found is not None
    return found


def guest_viewer(number: str = "1001") -> Viewer:
    return Viewer(granted_order_ids=frozenset({order_id(number)}))


def form_fields(tracking_number: str = "T1001", version: int = 0, **values: Any) -> dict[str, Any]:
    """Form fields as the browser sends them (prefixed per parcel); unset fields are sent empty."""
    fields = {
        "safe_place": "",
        "safe_place_other": "",
        "neighbour_name": "",
        "neighbour_house_number": "",
        "access_code": "",
        "note": "",
        "preferred_date": "",
        "version": str(version),
        **values,
    }
    prefix = form_prefix(tracking_number)
    return {f"{prefix}-{name}": value for name, value in fields.items()}


def post_instructions(
    client: Any, *, htmx: bool = False, path: str = PAGE, version: int = 0, **values: Any
) -> Any:
    """Open the order page (for the CSRF token, as a browser would) and post the form."""
    token = csrf_token(client.get(path.rsplit("/shipments/", 1)[0]).get_data(as_text=True))
    data = {"csrf_token": token, **form_fields(path.split("/")[4], version=version, **values)}
    return client.post(path, data=data, headers=HTMX if htmx else {})
