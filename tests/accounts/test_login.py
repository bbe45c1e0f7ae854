"""Signing in and out: generic failures, remember-me, session rotation, ending other sessions, rate limits."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.accounts.models import User
from portal.extensions import db
from tests.accounts.conftest import (
    PASSWORD,
    fresh,
    is_signed_in,
    make_user,
    page,
    post_form,
    sign_in,
    without_csrf,
)


def test_login_page_has_the_fields_with_autocomplete(client: FlaskClient) -> None:
    soup = page(client.get("/login").data)

    form = soup.find("form", action="/login")
    assert form.find("input", attrs={"name": "email"})["autocomplete"] == "email"
    assert form.find("input", attrs={"name": "password"})["autocomplete"] == "current-password"
    assert form.find("input", attrs={"name": "remember", "type": "checkbox"}) is not None
    assert form.find("a", href="/password/forgot") is not None
    assert soup.find("nav").find("a", href="/login") is not None


def test_shopper_signs_in_and_lands_on_their_orders(client: FlaskClient, shopper: User) -> None:
    response = sign_in(client, email="  SAM@Example.com ")

    assert response.status_code == 303
    assert response.location == "/orders"
    assert fresh(shopper).last_login_at is not None
    nav = page(client.get("/").data).find("nav")
    assert nav.find("a", href="/orders").get_text(strip=True) == "My orders"
    assert nav.find("a", href="/account").get_text(strip=True) == "Account"
    sign_out = nav.find("form", action="/logout")
    assert sign_out["method"] == "post" and sign_out.find("input", attrs={"name": "csrf_token"})["value"]
    assert nav.find("a", href="/login") is None


def test_staff_land_on_the_backoffice(client: FlaskClient) -> None:
    make_user("agent@example.com", role="agent")

    assert sign_in(client, "agent@example.com").location == "/backoffice/"


@pytest.mark.parametrize(
    ("next_path", "landing"),
    [
        ("/account", "/account"),
        ("/orders/1001?tab=returns", "/orders/1001?tab=returns"),
        ("//evil.example/", "/orders"),
        ("https://evil.example/", "/orders"),
        ("/\\evil.example", "/orders"),
    ],
)
def test_sign_in_returns_to_a_local_next_page_only(
    client: FlaskClient, shopper: User, next_path: str, landing: str
) -> None:
    response = post_form(
        client, "/login", {"email": "sam@example.com", "password": PASSWORD, "next": next_path}
    )

    assert response.location == landing


def test_pages_for_signed_in_users_send_others_to_sign_in_and_back(
    client: FlaskClient, shopper: User
) -> None:
    response = client.get("/account")

    assert response.status_code == 302
    assert response.location == "/login?next=%2Faccount"
    soup = page(client.get(response.location).data)
    assert "Please sign in" in soup.find(id="flashes").get_text()
    assert soup.find("form", action="/login").find("input", attrs={"name": "next"})["value"] == "/account"

    assert sign_in(client, next="/account").location == "/account"


def test_wrong_password_and_unknown_address_get_the_same_answer(client: FlaskClient, shopper: User) -> None:
    wrong_password = sign_in(client, "sam@example.com", "not the password at all")
    unknown = sign_in(client, "nobody@example.com", "not the password at all")

    assert wrong_password.status_code == unknown.status_code == 422
    assert "Email or password is wrong." in page(wrong_password.data).find(class_="error-summary").get_text()
    first = without_csrf(wrong_password.get_data(as_text=True)).replace("sam@example.com", "ADDRESS")
    second = without_csrf(unknown.get_data(as_text=True)).replace("nobody@example.com", "ADDRESS")
    assert first == second
    assert not is_signed_in(client)


@pytest.mark.parametrize("email", ["sam\x00@example.com", "sam@exam ple.com", "é" * 300, "@"])
def test_malformed_addresses_are_refused_without_an_error_page(
    client: FlaskClient, shopper: User, email: str
) -> None:
    response = sign_in(client, email=email)

    assert response.status_code == 422
    assert page(response.data).find(id="email-error") is not None


def test_inactive_users_cannot_sign_in(client: FlaskClient) -> None:
    make_user(active=False)

    assert sign_in(client).status_code == 422
    assert not is_signed_in(client)


def test_empty_or_overlong_input_is_shown_next_to_the_field(client: FlaskClient) -> None:
    response = sign_in(client, email="", password="p" * 129)

    assert response.status_code == 422
    soup = page(response.data)
    assert "Enter your email address." in soup.find(id="email-error").get_text()
    assert "too long" in soup.find(id="password-error").get_text()


def test_remember_me_cookie_is_set_only_when_asked(app: Flask, shopper: User) -> None:
    forgetful, remembering = app.test_client(), app.test_client()

    sign_in(forgetful)
    sign_in(remembering, remember="y")

    assert forgetful.get_cookie("remember_token") is None
    assert remembering.get_cookie("remember_token") is not None
    # A new browser session (the session cookie gone) is still signed in with the remember-me cookie.
    remembering.delete_cookie("session")
    assert remembering.get("/account").status_code == 200


def test_sign_in_starts_a_fresh_session_but_keeps_the_language(client: FlaskClient, shopper: User) -> None:
    with client.session_transaction() as session:
        session["planted"] = "by someone else"
        session["locale"] = "de"

    sign_in(client)

    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["locale"] == "de"
        assert session["_user_id"] == fresh(shopper).auth_id


def test_logout_is_post_only(client: FlaskClient, shopper: User) -> None:
    sign_in(client)

    assert client.get("/logout").status_code == 405
    assert is_signed_in(client)


def test_logout_ends_every_session_and_remember_me_cookie(app: Flask, shopper: User) -> None:
    here, elsewhere, remembered = app.test_client(), app.test_client(), app.test_client()
    for browser in (here, elsewhere):
        sign_in(browser)
    sign_in(remembered, remember="y")
    auth_id = fresh(shopper).auth_id

    response = post_form(here, "/logout", {}, form_page="/")

    assert response.status_code == 303 and response.location == "/"
    assert "You are signed out." in page(here.get("/").data).find(id="flashes").get_text()
    assert not is_signed_in(here)
    assert fresh(shopper).auth_id != auth_id
    assert elsewhere.get("/account").status_code == 302
    remembered.delete_cookie("session")
    assert remembered.get("/account").status_code == 302


def test_login_without_csrf_token_is_refused(client: FlaskClient, shopper: User) -> None:
    response = client.post("/login", data={"email": "sam@example.com", "password": PASSWORD})

    assert response.status_code == 400
    assert not is_signed_in(client)


def test_failed_sign_ins_per_address_are_limited(
    client: FlaskClient, app: Flask, shopper: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_EMAIL", "3 per 15 minutes")
    for _attempt in range(3):
        assert sign_in(client, "sam@example.com", "wrong password attempt").status_code == 422

    limited = sign_in(client, "SAM@example.com", PASSWORD)

    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    text = page(limited.data).find("main").get_text(" ", strip=True)
    assert re.search(r"Too many attempts\. Please try again in 1[45] minutes\.", text), text
    assert not is_signed_in(client)
    # Another address from the same client is not affected.
    make_user("kim@example.com")
    assert sign_in(client, "kim@example.com").status_code == 303


def test_failed_sign_ins_per_client_are_limited(
    client: FlaskClient, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_IP", "3 per 15 minutes")
    for number in range(3):
        assert sign_in(client, f"user{number}@example.com", "wrong password attempt").status_code == 422

    assert sign_in(client, "user9@example.com", "wrong password attempt").status_code == 429


def test_successful_sign_ins_do_not_count(app: Flask, shopper: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_EMAIL", "2 per 15 minutes")
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_IP", "2 per 15 minutes")

    for _attempt in range(4):
        assert sign_in(app.test_client()).status_code == 303


def test_signed_in_user_visiting_login_goes_to_their_landing_page(client: FlaskClient, shopper: User) -> None:
    sign_in(client)

    assert client.get("/login").location == "/orders"
    assert client.get("/register").location == "/orders"


def test_the_signed_in_user_is_loaded_by_the_alternative_id(client: FlaskClient, shopper: User) -> None:
    sign_in(client)
    user = fresh(shopper)
    user.auth_id = "rotated-elsewhere"
    db.session.commit()

    assert client.get("/account").status_code == 302
    assert db.session.get(User, shopper.id) is not None
