"""Registering, verifying the e-mail address by its link and the password, claiming guest orders, sending the
link again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.tokens import make_verification_token
from portal.audit import AuditEntry
from portal.extensions import db
from portal.orders.models import Order
from tests.accounts.conftest import (
    NEW_PASSWORD,
    PASSWORD,
    confirm_address,
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


# Differ on every response whatever the address: the signed session cookie (its names are compared), the
# request id, and the counters of the rate limit per client (every test client is 127.0.0.1).
_PER_RESPONSE_HEADERS = (
    "Set-Cookie",
    "X-Request-ID",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "Retry-After",
)


def comparable(response: Any) -> tuple[int, list[tuple[str, str]], list[str], str]:
    """Status, headers, cookie names and body, with what differs on every response made the same: the CSP
    nonce, the CSRF token and the headers above."""
    headers = sorted(
        (name, re.sub(r"nonce-[\w-]+", "nonce-N", value))
        for name, value in response.headers.items()
        if name not in _PER_RESPONSE_HEADERS
    )
    cookies = sorted(cookie.partition("=")[0] for cookie in response.headers.getlist("Set-Cookie"))
    body = response.get_data(as_text=True)
    if "csrf" in body.lower():
        body = without_csrf(body)
    return response.status_code, headers, cookies, body


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
    assert not is_signed_in(client)
    user = db.session.scalar(select(User).where(User.email == "ada@example.com"))
    assert user is not None and user.role == "shopper" and user.name == "Ada Lovelace"
    assert user.email_verified_at is None
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-1001")) is None

    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    [message] = mails_to(mailbox.wait_for(1), "ada@example.com")
    assert "Confirm your email address" in message["Subject"]
    assert message.get_body(("html",)) is not None
    assert "If you did not create an account" in text_of(message)
    assert "asks for the password" in text_of(message)
    link = link_in(message, "/verify/")

    # Opening the link only asks for the password: a mail scanner following it changes nothing.
    opened = client.get(link)

    assert opened.status_code == 200
    soup = page(opened.data)
    assert "ada@example.com" in soup.find("main").get_text()
    form = soup.find("form", action=link)
    assert form["method"] == "post"
    assert form.find("input", attrs={"name": "password"})["autocomplete"] == "current-password"
    assert fresh(user).email_verified_at is None
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-1001")) is None
    assert not is_signed_in(client)

    response = confirm_address(client, link)

    assert response.status_code == 303
    assert response.location == "/orders"
    flashes = page(client.get("/orders").data).find(id="flashes").get_text(" ", strip=True)
    assert "Your email address is confirmed." in flashes and "1 earlier order was added" in flashes
    assert is_signed_in(client)
    assert fresh(user).email_verified_at is not None
    db.session.expire_all()
    owners = {number: owner for number, owner in db.session.execute(select(Order.number, Order.customer_id))}
    assert owners == {"G-1001": user.id, "G-1002": None}

    # An order placed later with the address joins the account at once.
    api.put("/orders/G-1003", json=order_body(email="ADA@example.com"))
    db.session.expire_all()
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-1003")) == user.id

    # The link works once.
    verified_at = fresh(user).email_verified_at
    assert client.get(link).status_code == 410
    assert confirm_address(client, link).status_code == 410
    assert fresh(user).email_verified_at == verified_at


def test_registration_never_signs_in_and_answers_the_same_whether_or_not_the_address_has_an_account(
    client: FlaskClient, app: Flask
) -> None:
    make_user("taken@example.com", name="Owner")
    make_user("pending@example.com", verified=False, name="Pending")

    answers = {}
    for email in ("new@example.com", "taken@example.com", "pending@example.com"):
        browser = app.test_client()  # a browser of its own each, isolated like `client`
        response = register(browser, email=email.upper(), name="Ada Lovelace")
        inbox = browser.get(response.location)
        account = browser.get("/account")
        with browser.session_transaction() as session:
            session_keys = sorted(session.keys())
        answers[email] = (comparable(response), comparable(inbox), comparable(account), session_keys)

    new, taken, pending = answers.values()
    assert new == taken == pending
    registered, inbox, account, session_keys = new
    assert registered[0] == 303 and ("Location", "/register/check-your-inbox") in registered[1]
    assert inbox[0] == 200 and "Check your inbox" in inbox[3]
    assert account[0] == 302 and ("Location", "/login?next=%2Faccount") in account[1]
    assert "_user_id" not in session_keys


def test_registration_with_a_taken_address_changes_nothing_and_tells_the_owner(
    client: FlaskClient, app: Flask, mailbox: Any, run_worker: Any
) -> None:
    owner = make_user("ada@example.com", name="Ada")
    password_hash, auth_id = owner.password_hash, owner.auth_id

    other = "another long passphrase 42"
    register(client, name="Mallory", password=other, confirm=other)
    register(app.test_client(), email="grace@example.com", name="Grace")

    assert db.session.scalar(select(db.func.count()).select_from(User)) == 2
    owner = fresh(owner)
    assert (owner.name, owner.password_hash, owner.auth_id) == ("Ada", password_hash, auth_id)

    assert run_worker("messages").returncode == 0
    messages = mailbox.wait_for(2)
    [note] = mails_to(messages, "ada@example.com")
    assert "already have an account" in note["Subject"]
    assert "nothing was created" in text_of(note)
    assert link_in(note, "/password/reset/")
    assert link_in(mails_to(messages, "grace@example.com")[0], "/verify/")


def test_registering_an_unverified_address_again_takes_it_over_from_the_earlier_registrant(
    client: FlaskClient, app: Flask, api: Any, mailbox: Any, run_worker: Any
) -> None:
    """Account pre-hijacking: an attacker registers the victim's address first, with their own password."""
    api.put("/orders/G-2001", json=order_body(email="victim@example.com"))
    attacker, victim = client, app.test_client()
    attacker_password = "mallory owns this one 77"
    register(attacker, email="victim@example.com", password=attacker_password, confirm=attacker_password)
    # An unverified account may sign in.
    assert sign_in(attacker, "victim@example.com", attacker_password).status_code == 303
    account = db.session.scalar(select(User).where(User.email == "victim@example.com"))
    assert account is not None
    account.phone, account.channel_preferences = "+447700900123", {"updates": {"email": False, "sms": True}}
    account.marketing_consent, account.timezone = True, "Asia/Tokyo"
    db.session.commit()
    assert run_worker("messages").returncode == 0
    attackers_link = link_in(mailbox.wait_for(1)[0], "/verify/")
    mailbox.messages.clear()

    register(victim, email="Victim@Example.com", name="Vic Tim")

    account = fresh(account)
    assert account.name == "Vic Tim"
    assert service.verify_password(account.password_hash, PASSWORD)
    assert (account.phone, account.marketing_consent, account.timezone) == (None, False, None)
    assert service.channel_preferences(account)["updates"] == {"email": True, "sms": False}
    assert attacker.get("/account").status_code == 302  # the attacker's session ended
    assert not is_signed_in(victim)
    assert db.session.scalar(select(db.func.count()).select_from(User)) == 1
    # The link sent for the attacker's password died with it.
    assert victim.get(attackers_link).status_code == 410
    assert run_worker("messages").returncode == 0
    link = link_in(mails_to(mailbox.wait_for(1), "victim@example.com")[0], "/verify/")

    # The attacker's password does not open the new link either; the victim's does.
    wrong = confirm_address(attacker, link, attacker_password)
    assert wrong.status_code == 422
    assert "not the password of your account" in page(wrong.data).find(id="password-error").get_text()
    assert fresh(account).email_verified_at is None
    assert confirm_address(victim, link).status_code == 303
    assert is_signed_in(victim)
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-2001")) == account.id
    assert sign_in(app.test_client(), "victim@example.com", attacker_password).status_code == 422


def test_unverified_users_sign_in_but_get_their_orders_only_when_they_verify(
    client: FlaskClient, app: Flask, api: Any
) -> None:
    api.put("/orders/G-3001", json=order_body(email="ada@example.com"))
    user = make_user("ada@example.com", verified=False)
    link = f"/verify/{make_verification_token(user)}"
    elsewhere = app.test_client()
    assert sign_in(elsewhere, "ada@example.com").status_code == 303
    assert elsewhere.get("/account").status_code == 200
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-3001")) is None

    assert confirm_address(client, link).status_code == 303

    # Verifying ends every other session of the account and signs in the browser that verified.
    assert is_signed_in(client)
    assert elsewhere.get("/account").status_code == 302
    assert db.session.scalar(select(Order.customer_id).where(Order.number == "G-3001")) == user.id
    assert db.session.scalar(select(AuditEntry.action).where(AuditEntry.action == "account.email_verified"))


def test_wrong_passwords_on_the_verification_page_are_limited(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_EMAIL", "2 per 15 minutes")
    user = make_user("ada@example.com", verified=False)
    link = f"/verify/{make_verification_token(user)}"
    for _attempt in range(2):
        response = confirm_address(client, link, "not the password at all")
        assert response.status_code == 422
        assert page(response.data).find(id="password-error") is not None

    limited = confirm_address(app.test_client(), link)

    assert limited.status_code == 429
    assert "try again in" in page(limited.data).find("main").get_text()
    assert fresh(user).email_verified_at is None
    # Mistakes in the form itself do not count.
    assert confirm_address(app.test_client(), link, "").status_code == 429


def test_empty_or_overlong_password_on_the_verification_page_is_shown_next_to_the_field(
    client: FlaskClient,
) -> None:
    user = make_user("ada@example.com", verified=False)
    link = f"/verify/{make_verification_token(user)}"

    for password, message in [("", "Enter your password."), ("p" * 129, "too long")]:
        response = confirm_address(client, link, password)
        assert response.status_code == 422
        assert message in page(response.data).find(id="password-error").get_text()
    assert fresh(user).email_verified_at is None


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
    assert confirm_address(client, f"/verify/{token}").status_code == 410


def test_verification_link_without_csrf_token_is_refused(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)

    response = client.post(f"/verify/{make_verification_token(user)}", data={"password": PASSWORD})

    assert response.status_code == 400
    assert fresh(user).email_verified_at is None


def test_verification_link_expires_after_48_hours(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)
    start = datetime.now(UTC)
    with clock.freeze(start):
        token = make_verification_token(user)

    with clock.freeze(start + timedelta(hours=48, minutes=1)):
        assert client.get(f"/verify/{token}").status_code == 410
        assert confirm_address(client, f"/verify/{token}").status_code == 410
    assert fresh(user).email_verified_at is None
    with clock.freeze(start + timedelta(hours=47)):
        assert confirm_address(client, f"/verify/{token}").status_code == 303
    assert fresh(user).email_verified_at is not None


def test_verification_link_for_a_previous_address_does_not_verify_the_new_one(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)
    token = make_verification_token(user)
    user.email = "ada.new@example.com"
    db.session.commit()

    assert client.get(f"/verify/{token}").status_code == 410
    assert fresh(user).email_verified_at is None


def test_verification_link_dies_when_the_password_changes(client: FlaskClient) -> None:
    user = make_user("ada@example.com", verified=False)
    token = make_verification_token(user)
    user.password_hash = service.hash_password(NEW_PASSWORD)
    db.session.commit()

    assert client.get(f"/verify/{token}").status_code == 410
    assert confirm_address(client, f"/verify/{token}", NEW_PASSWORD).status_code == 410
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
