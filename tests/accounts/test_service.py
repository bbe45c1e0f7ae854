"""Account rules independent of HTTP: the password policy, claiming guest orders, channel preferences."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from portal import clock
from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.passwords import password_problem
from portal.accounts.tokens import InvalidLink, make_verification_token
from portal.audit import AuditEntry
from portal.errors import Invalid
from portal.extensions import db
from portal.orders.models import Order
from tests.accounts.conftest import PASSWORD, make_user
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


def test_set_locale_stores_the_language_and_audits_a_change_only(app: Any) -> None:
    user = make_user("ada@example.com", locale="en")

    service.set_locale(user, "de")
    service.set_locale(user, "de")
    db.session.commit()

    assert user.locale == "de"
    audited = select(AuditEntry).where(AuditEntry.action == "account.locale_changed")
    entries = db.session.scalars(audited).all()
    assert [(entry.before, entry.after) for entry in entries] == [({"locale": "en"}, {"locale": "de"})]


@pytest.mark.parametrize("locale", ["xx", "", "de_DE", "DE"])
def test_set_locale_refuses_a_language_not_offered(app: Any, locale: str) -> None:
    user = make_user("ada@example.com", locale="en")

    with pytest.raises(Invalid) as raised:
        service.set_locale(user, locale)

    assert "locale" in raised.value.fields
    assert user.locale == "en"


def test_registering_an_unverified_address_again_replaces_password_and_sessions(app: Any) -> None:
    user = make_user("ada@example.com", verified=False, name="Mallory", phone="+447700900123")
    auth_id = user.auth_id

    service.register_shopper("Ada", "ADA@example.com", "purple tractor umbrella sonnet")
    db.session.commit()

    assert (user.name, user.phone, user.email_verified_at) == ("Ada", None, None)
    assert service.verify_password(user.password_hash, "purple tractor umbrella sonnet")
    assert user.auth_id != auth_id


def test_verifying_needs_the_password_the_link_was_sent_for(app: Any) -> None:
    user = make_user("ada@example.com", verified=False)
    token = make_verification_token(user)

    with pytest.raises(Invalid) as raised:
        service.verify_email(token, "not the password")
    assert "password" in raised.value.fields
    assert user.email_verified_at is None

    auth_id = user.auth_id
    verification = service.verify_email(token, PASSWORD)
    assert verification.user is user and user.email_verified_at is not None
    assert user.auth_id != auth_id and user.last_login_at is not None
    with pytest.raises(InvalidLink):
        service.user_for_verification_token(token)
