"""Registering, verifying the e-mail address by its link, claiming guest orders, sending the link again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.accounts.tokens import make_verification_token
from portal.extensions import db
from portal.orders.models import Order
from tests.accounts.conftest import (
    PASSWORD,
    fresh,
    is_signed_in,
    link_in,
    mails_to,
    make_user,
    page,
    post_form,
    sign_in,
    text_of,
    without_csrf,
)
from tests.factories import order_body

REGISTRATION = {"name": "Ada Lovelace", "email": "Ada@Example.com", "password": PASSWORD, "confirm": PASSWORD}


def register(client: FlaskClient, **overrides: str) -> Any:
    return post_form(client, "/register", {**REGISTRATION, **overrides})


def test_register_page_has_the_fields_with_autocomplete(client: FlaskClient) -> None:
    soup = page(client.get("/register").data)

    form = soup.find("form", action="/register")
    expected = {"name": "name", "email": "email", "password": "new-password", "confirm": "new-password"}
    for name, autocomplete in expected.items():
        control = form.find("input", attrs={"name": name})
        assert control["autocomplete"] == autocomplete
        assert soup.find("label", attrs={"for": control["id"]})
    hint = soup.find(id=form.find("input", attrs={"name": "password"})["aria-describedby"])
    assert "15 or more" in hint.get_text()


def test_registration_verification_and_claiming_guest_orders(
    client: FlaskClient, api: Any, mailbox: Any, run_worker: Any
) -> None:
    assert api.put("/orders/G-1001", json=order_body(email="ada@example.com")).status_code in (200, 201)
    assert api.put("/orders/G-1002", json=order_body(email="someone.else@example.com")).status_code in (
        200,
        201,
    )

    response = register(client)

    assert response.status_code == 303
    assert response.location == "/register/check-your-inbox"
    assert "Check your inbox" in page(client.get(response.location).data).find("h1").get_text()
    assert is_signed_in(client)
    user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    assert user is not None and user.role == "shopper" and user.name == "Ada Lovelace"
    assert user.email_verified_at is None
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-1001")) is None

    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    [message] = mails_to(mailbox.wait_for(1), "ada@example.com")
    assert "Confirm your email address" in message["Subject"]
    assert message.get_body(("html",)) is not None
    link = link_in(message, "/verify/")

    response = client.get(link)

    assert response.status_code == 200
    text = page(response.data).find("main").get_text(" ", strip=True)
    assert "Email address confirmed" in text and "1 earlier order was added" in text
    assert fresh(user).email_verified_at is not None
    db.session.expire_all()
    owners = {number: owner for number, owner in db.session.execute(select(Order.number, Order.customer_id))}
    assert owners == {"G-1001": user.id, "G-1002": None}

    # An order placed later with the address joins the account at once.
    api.put("/orders/G-1003", json=order_body(email="ADA@example.com"))
    db.session.expire_all()
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-1003")) == user.id

    # The link a second time: nothing changes, and the page says so.
    verified_at = fresh(user).email_verified_at
    again = client.get(link)
    assert again.status_code == 200
    assert "Already confirmed" in page(again.data).find("h1").get_text()
    assert fresh(user).email_verified_at == verified_at


def test_registration_with_a_taken_address_looks_the_same_and_tells_the_owner(
    client: FlaskClient, app: Any, mailbox: Any, run_worker: Any
) -> None:
    owner = make_user("ada@example.com", name="Ada")
    make_user("unverified@example.com", verified=False)
    new_client, unverified_client = app.test_client(), app.test_client()

    taken = register(client, name="Mallory")
    new = register(new_client, email="grace@example.com", name="Grace")
    unverified = register(unverified_client, email="Unverified@example.com")

    assert taken.status_code == new.status_code == unverified.status_code == 303
    assert taken.location == new.location == unverified.location
    taken_main = page(without_csrf(client.get(taken.location).get_data(as_text=True))).find("main")
    new_main = page(without_csrf(new_client.get(new.location).get_data(as_text=True))).find("main")
    assert str(taken_main) == str(new_main)
    assert not is_signed_in(client) and not is_signed_in(unverified_client)
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 3
    assert fresh(owner).name == "Ada"

    assert run_worker("messages").returncode == 0
    messages = mailbox.wait_for(3)
    [note] = mails_to(messages, "ada@example.com")
    assert "already have an account" in note["Subject"]
    assert "nothing was created" in text_of(note)
    assert link_in(note, "/password/reset/")
    assert link_in(mails_to(messages, "grace@example.com")[0], "/verify/")
    # An unverified owner gets the verification link again: perhaps they lost the first one.
    assert link_in(mails_to(messages, "unverified@example.com")[0], "/verify/")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "short1!", "at least 8 characters"),
        ("password", "x" * 129, "at most 128 characters"),
        ("password", "password123", "too common"),
        ("password", "Ada@Example.com!", "email address or your name"),
        ("password", "lovelace-2024", "email address or your name"),
        ("confirm", "something else entirely", "not the same"),
        ("email", "not-an-address", "like name@example.com"),
        ("email", "a" * 250 + "@example.com", "too long"),
        ("name", "", "Enter your name"),
        ("name", "n" * 201, "at most 200"),
        ("name", "Sam\r\nBcc: everyone@example.com", "letters, digits"),
        ("name", "Sam\x00", "letters, digits"),
        ("email", "sam\x00@example.com", "like name@example.com"),
    ],
)
def test_bad_registration_input_is_shown_next_to_the_field(
    client: FlaskClient, field: str, value: str, message: str
) -> None:
    data = {field: value}
    if field == "password":
        data["confirm"] = value

    response = register(client, **data)

    assert response.status_code == 422
    soup = page(response.data)
    control = soup.find(attrs={"name": field})
    assert control["aria-invalid"] == "true"
    error = soup.find(id=f"{control['id']}-error")
    assert error is not None and message in error.get_text()
    assert error["id"] in control["aria-describedby"]
    assert soup.find(class_="error-summary") is not None
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 0
    # The password is never sent back to the browser.
    assert all(not box.get("value") for box in soup.find_all("input", type="password"))


def test_register_without_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/register", data=REGISTRATION)

    assert response.status_code == 400
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 0


@pytest.mark.parametrize("token", ["nonsense", "a" * 600, "eyJ1c2VyIjoxfQ.AAAA.BBBB"])
def test_unknown_verification_links_get_a_friendly_page(client: FlaskClient, token: str) -> None:
    response = client.get(f"/verify/{token}")

    assert response.status_code == 410
    assert "not valid any more" in page(response.data).find("main").get_text()


def test_verification_link_expires_after_48_hours(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)
    start = datetime.now(UTC)
    with clock.freeze(start):
        token = make_verification_token(user)

    with clock.freeze(start + timedelta(hours=48, minutes=1)):
        assert client.get(f"/verify/{token}").status_code == 410
    assert fresh(user).email_verified_at is None
    with clock.freeze(start + timedelta(hours=47)):
        assert client.get(f"/verify/{token}").status_code == 200
    assert fresh(user).email_verified_at is not None


def test_verification_link_for_a_previous_address_does_not_verify_the_new_one(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)
    token = make_verification_token(user)
    user.email = "ada.new@example.com"
    db.session.commit()

    assert client.get(f"/verify/{token}").status_code == 410
    assert fresh(user).email_verified_at is None


def test_resend_verification_email_is_rate_limited(
    client: FlaskClient, app: Any, mailbox: Any, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "VERIFICATION_RESEND_LIMIT", "2 per hour")
    make_user("ada@example.com", verified=False)
    sign_in(client, "ada@example.com")
    soup = page(client.get("/account").data)
    assert soup.find("form", action="/account/verification") is not None

    first = post_form(client, "/account/verification", {}, form_page="/account")
    assert first.status_code == 303 and first.location == "/account"
    assert "We have sent a new link" in page(client.get("/account").data).find(id="flashes").get_text()
    assert post_form(client, "/account/verification", {}, form_page="/account").status_code == 303

    limited = post_form(client, "/account/verification", {}, form_page="/account")
    assert limited.status_code == 429
    assert "try again in" in page(limited.data).find("main").get_text()

    assert run_worker("messages").returncode == 0
    assert link_in(mails_to(mailbox.wait_for(1), "ada@example.com")[0], "/verify/")


def test_verified_account_has_no_resend_button(client: FlaskClient, shopper: User) -> None:
    sign_in(client)

    assert page(client.get("/account").data).find("form", action="/account/verification") is None
