"""Session and remember-me cookies: attributes, rotation at sign-in, revocation, idle and absolute limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from portal import clock, create_app
from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import IsolatedClient, csrf_token

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "purple tractor umbrella sonnet"
START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def user(app: Flask) -> User:
    created = create_user("sam@example.com", PASSWORD, "shopper", "Sam", verified=True)
    db.session.commit()
    return created


def sign_in(client: FlaskClient, *, remember: bool = False, **kwargs: Any) -> Any:
    token = csrf_token(client.get("/login", **kwargs).get_data(as_text=True))
    data = {"csrf_token": token, "email": "sam@example.com", "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data, **kwargs)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def signed_in(client: FlaskClient, **kwargs: Any) -> bool:
    response = client.get("/account", **kwargs)
    assert response.status_code in (200, 302)
    return response.status_code == 200


def cookie_value(client: FlaskClient, name: str) -> str | None:
    cookie = client.get_cookie(name)
    return cookie.value if cookie else None


def test_production_cookies_are_host_prefixed_secure_httponly_lax(
    app: Flask, app_config: dict[str, Any], user: User
) -> None:
    production = create_app({**app_config, "PORTAL_ENV": "production"})
    production.test_client_class = IsolatedClient
    client = production.test_client()
    # Over HTTPS, Flask-WTF also wants a same-origin Referer, as a browser sends.
    response = sign_in(
        client,
        remember=True,
        base_url="https://portal.test",
        headers={"Referer": "https://portal.test/login"},
    )
    cookies: dict[str, Any] = {}
    for header in response.headers.getlist("Set-Cookie"):
        parsed = SimpleCookie()
        parsed.load(header)
        cookies.update(parsed)
    assert set(cookies) == {"__Host-session", "__Host-remember"}
    for morsel in cookies.values():
        assert morsel["secure"] and morsel["httponly"]
        assert morsel["samesite"] == "Lax"
        assert morsel["path"] == "/" and not morsel["domain"]  # what the __Host- prefix requires
    remember = cookies["__Host-remember"]
    assert remember["expires"], "a remember-me cookie outlives the browser session"
    assert (
        timedelta(days=29) < timedelta(seconds=int(remember["max-age"] or 30 * 86400)) <= timedelta(days=30)
    )


def test_development_cookies_are_httponly_lax(client: FlaskClient, user: User) -> None:
    response = sign_in(client, remember=True)
    headers = response.headers.getlist("Set-Cookie")
    assert any(h.startswith("session=") and "HttpOnly" in h and "SameSite=Lax" in h for h in headers)
    assert any(h.startswith("remember_token=") and "HttpOnly" in h and "SameSite=Lax" in h for h in headers)


def test_signing_in_starts_a_new_session(app: Flask, client: FlaskClient, user: User) -> None:
    client.get("/login")
    before = cookie_value(client, "session")
    form_token = csrf_token(client.get("/login").get_data(as_text=True))
    sign_in(client)
    assert cookie_value(client, "session") != before
    # The CSRF token of the anonymous session is not the signed-in session's token.
    assert csrf_token(client.get("/account").get_data(as_text=True)) != form_token
    # A session cookie planted before sign-in (session fixation) is still anonymous afterwards.
    planted = app.test_client()
    planted.set_cookie("session", before or "")
    assert not signed_in(planted)


def test_sign_out_everywhere_revokes_other_sessions_and_remember_me(
    app: Flask, client: FlaskClient, user: User
) -> None:
    laptop = app.test_client()
    sign_in(laptop, remember=True)
    stolen_session = cookie_value(laptop, "session")
    stolen_remember = cookie_value(laptop, "remember_token")
    sign_in(client)
    page = client.get("/account").get_data(as_text=True)
    assert "Sign out everywhere" in page
    assert client.post("/logout", data={"csrf_token": csrf_token(page)}).status_code == 303

    assert not signed_in(laptop)
    replay = app.test_client()
    replay.set_cookie("session", stolen_session or "")
    replay.set_cookie("remember_token", stolen_remember or "")
    assert not signed_in(replay)


def test_changing_the_password_revokes_remember_me_elsewhere(
    app: Flask, client: FlaskClient, user: User
) -> None:
    phone = app.test_client()
    sign_in(phone, remember=True)
    sign_in(client)
    token = csrf_token(client.get("/account").get_data(as_text=True))
    response = client.post(
        "/account/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert signed_in(client)
    remember_only = app.test_client()
    remember_only.set_cookie("remember_token", cookie_value(phone, "remember_token") or "")
    assert not signed_in(remember_only)
    assert not signed_in(phone)


def test_an_idle_session_ends(app: Flask, client: FlaskClient, user: User) -> None:
    idle = app.config["SESSION_IDLE_MINUTES"]
    with clock.freeze(START):
        sign_in(client)
        clock.advance(timedelta(minutes=idle - 1))
        assert signed_in(client)  # and this request counts as activity
        clock.advance(timedelta(minutes=idle - 1))
        assert signed_in(client)
        clock.advance(timedelta(minutes=idle + 1))
        assert not signed_in(client)
        # Signing in again works, on a fresh clock.
        sign_in(client)
        assert signed_in(client)


def test_a_busy_session_still_ends_after_the_absolute_limit(
    app: Flask, client: FlaskClient, user: User
) -> None:
    hours = app.config["SESSION_MAX_HOURS"]
    with clock.freeze(START):
        sign_in(client)
        for _ in range(hours * 2 - 1):
            clock.advance(timedelta(minutes=30))
            assert signed_in(client)
        clock.advance(timedelta(minutes=31))
        assert not signed_in(client)


def test_remember_me_starts_a_new_session_after_a_timeout(
    app: Flask, client: FlaskClient, user: User
) -> None:
    with clock.freeze(START):
        sign_in(client, remember=True)
        clock.advance(timedelta(hours=app.config["SESSION_MAX_HOURS"] + 1))
        assert signed_in(client)
        clock.advance(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1))
        assert signed_in(client)
