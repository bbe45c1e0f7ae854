"""Account rules independent of HTTP: the password policy, claiming guest orders, channel preferences."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal import clock
from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.passwords import password_problem
from portal.extensions import db
from portal.orders.models import Order
from tests.accounts.conftest import make_user
from tests.factories import order_body


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("seven77", "at least 8"),
        ("x" * 129, "at most 128"),
        ("password", "too common"),
        ("iloveyou2", "too common"),
        ("qwertzuiop", "too common"),
        ("ada.lovelace@example.com", "email address or your name"),
        ("my name is Ada Lovelace", "email address or your name"),
        ("xx-Lovelace-xx-1843", "email address or your name"),
        ("correct horse battery staple", None),
        ("Tr0ub4dor&3 is a fine one", None),
        ("é" * 8 + "ü" * 8 + "ß" * 8 + " ö a ä", None),
    ],
)
def test_password_policy(app: Any, password: str, problem: str | None) -> None:
    found = password_problem(password, email="Ada.Lovelace@Example.com", name="Ada Lovelace")

    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_claiming_takes_only_unowned_orders_with_the_verified_address(app: Any, api: Any) -> None:
    for number, email in [("A-1", "ada@example.com"), ("A-2", "Ada@Example.com"), ("B-1", "bob@example.com")]:
        api.put(f"/orders/{number}", json=order_body(email=email))
    other = make_user("other@example.com")
    db.session.execute(db.update(Order).where(Order.number == "A-2").values(customer_id=other.id))
    ada = make_user("ada@example.com", verified=False)

    assert service.claim_guest_orders(ada) == 0  # not verified yet
    ada.email_verified_at = clock.now()

    assert service.claim_guest_orders(ada) == 1
    db.session.commit()
    owners = {number: owner for number, owner in db.session.execute(select(Order.number, Order.customer_id))}
    assert owners == {"A-1": ada.id, "A-2": other.id, "B-1": None}


def test_channel_preferences_fill_in_defaults(app: Any) -> None:
    user = User(email="x@example.com", channel_preferences={"updates": {"sms": True}, "followups": "junk"})

    assert service.channel_preferences(user) == {
        "updates": {"email": True, "sms": True},
        "followups": {"email": True, "sms": False},
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("  ", None), ("+44 7700 900123", "+447700900123"), ("0049 (30) 123-4567", "+49301234567")],
)
def test_phone_numbers_are_stored_in_international_form(raw: str, expected: str | None) -> None:
    assert service.normalise_phone(raw) == expected
