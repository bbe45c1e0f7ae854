"""With Redis unreachable, pages still render and the rate-limited forms still answer (no 500)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from portal import create_app
from portal.extensions import limiter
from tests.conftest import csrf_token


def test_sign_in_and_lookup_work_while_redis_is_down(app: Flask, app_config: dict[str, Any]) -> None:
    broken = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI": ""})
    try:
        client = broken.test_client()
        assert client.get("/").status_code == 200
        token = csrf_token(client.get("/track").get_data(as_text=True))
        lookup = client.post(
            "/track", data={"csrf_token": token, "order_number": "X1", "email": "a@example.com"}
        )
        assert lookup.status_code == 200
        assert b"could not find" in lookup.data
        token = csrf_token(client.get("/login").get_data(as_text=True))
        login = client.post(
            "/login", data={"csrf_token": token, "email": "a@example.com", "password": "wrong"}
        )
        assert login.status_code == 422
    finally:
        # The limiter is shared by every app object: point it back at the working Redis.
        limiter.init_app(app)


def test_sign_in_stays_limited_per_process_while_redis_is_down(
    app: Flask, app_config: dict[str, Any]
) -> None:
    """The documented choice (README, "When Redis is down"): limits fall back to the process's memory rather
    than failing open (unlimited guessing) or closed (nobody can sign in)."""
    broken = create_app(
        {
            **app_config,
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "RATELIMIT_STORAGE_URI": "",
            "LOGIN_LIMIT_PER_EMAIL": "2 per hour",
        }
    )
    try:
        client = broken.test_client()
        answers = []
        for _ in range(3):
            token = csrf_token(client.get("/login").get_data(as_text=True))
            data = {"csrf_token": token, "email": "a@example.com", "password": "wrong"}
            answers.append(client.post("/login", data=data).status_code)
        assert answers == [422, 422, 429]
    finally:
        limiter.init_app(app)


def test_regional_locales_use_the_language_we_have() -> None:
    from portal.i18n import supported_locale

    values = ("de-DE", "de_AT", "DE", "en-GB", "fr-FR", "", None)
    assert [supported_locale(value) for value in values] == ["de", "de", "de", "en", "fr", None, None]
