"""Forgot password: the same answer for every address; the reset link works once, for 30 minutes, and dies
when the password changes; resetting ends every other session."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from portal import clock
from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.tokens import make_reset_token
from portal.extensions import db
from tests.accounts.conftest import (
    NEW_PASSWORD,
    PASSWORD,
    fresh,
    is_signed_in,
    link_in,
    mails_to,
    page,
    post_form,
    sign_in,
)


def ask_for_link(client: FlaskClient, email: str) -> Any:
    return post_form(client, "/password/forgot", {"email": email})


def set_password(client: FlaskClient, path: str, password: str, confirm: str | None = None) -> Any:
    return post_form(
        client, path, {"password": password, "confirm": password if confirm is None else confirm}
    )


def test_forgot_password_answers_the_same_whether_or_not_the_account_exists(
    client: FlaskClient, shopper: User, mailbox: Any, run_worker: Any
) -> None:
    known = ask_for_link(client, "SAM@example.com")
    unknown = ask_for_link(client, "nobody@example.com")

    assert known.status_code == unknown.status_code == 303
    assert known.location == unknown.location == "/password/forgot/sent"
    sent = client.get(known.location)
    assert (
        "If an account exists for that address, we have sent a link"
        in page(sent.data).find("main").get_text()
    )

    assert run_worker("messages").returncode == 0
    messages = mailbox.wait_for(1)
    assert len(messages) == 1
    [message] = mails_to(messages, "sam@example.com")
    assert "Set a new password" in message["Subject"]
    assert link_in(message, "/password/reset/")


def test_reset_sets_the_password_once_and_ends_every_other_session(
    app: Flask, client: FlaskClient, shopper: User
) -> None:
    elsewhere = app.test_client()
    sign_in(elsewhere)
    path = f"/password/reset/{make_reset_token(shopper)}"

    form = page(client.get(path).data).find("form", action=path)
    assert form.find("input", attrs={"name": "password"})["autocomplete"] == "new-password"

    weak = set_password(client, path, "password1")
    assert weak.status_code == 422
    assert "too common" in page(weak.data).find(id="password-error").get_text()
    mismatch = set_password(client, path, NEW_PASSWORD, "something else entirely")
    assert "not the same" in page(mismatch.data).find(id="confirm-error").get_text()

    response = set_password(client, path, NEW_PASSWORD)

    assert response.status_code == 303 and response.location == "/orders"
    assert "new password is set" in page(client.get("/").data).find(id="flashes").get_text()
    assert is_signed_in(client)
    assert not is_signed_in(elsewhere)
    assert service.verify_password(fresh(shopper).password_hash, NEW_PASSWORD)
    # The link works once.
    again = client.get(path)
    assert again.status_code == 410
    assert "not valid any more" in page(again.data).find("main").get_text()
    assert set_password(app.test_client(), path, "another fine passphrase here").status_code == 410
    assert sign_in(app.test_client(), password=PASSWORD).status_code == 422
    assert sign_in(app.test_client(), password=NEW_PASSWORD).status_code == 303


def test_reset_link_expires_after_30_minutes(client: FlaskClient, shopper: User) -> None:
    start = datetime.now(UTC)
    with clock.freeze(start):
        path = f"/password/reset/{make_reset_token(shopper)}"

    with clock.freeze(start + timedelta(minutes=29)):
        assert client.get(path).status_code == 200
    with clock.freeze(start + timedelta(minutes=31)):
        assert client.get(path).status_code == 410
        assert set_password(client, path, NEW_PASSWORD).status_code == 410
    assert service.verify_password(fresh(shopper).password_hash, PASSWORD)


def test_reset_link_dies_when_the_password_changes(client: FlaskClient, shopper: User) -> None:
    path = f"/password/reset/{make_reset_token(shopper)}"
    user = fresh(shopper)
    service.change_password(user, PASSWORD, NEW_PASSWORD)
    db.session.commit()

    assert client.get(path).status_code == 410


def test_unknown_or_tampered_reset_links_get_a_friendly_page(client: FlaskClient, shopper: User) -> None:
    token = make_reset_token(shopper)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for path in ("/password/reset/nonsense", f"/password/reset/{tampered}", "/password/reset/" + "x" * 700):
        response = client.get(path)
        assert response.status_code == 410
        assert page(response.data).find("main").find("a", href="/password/forgot") is not None


def test_reset_token_does_not_reveal_the_password_hash(shopper: User) -> None:
    token = make_reset_token(shopper)

    assert shopper.password_hash is not None
    assert shopper.password_hash.split("$")[-1] not in token


def test_forgot_password_is_rate_limited_per_address(
    client: FlaskClient, app: Flask, shopper: User, monkeypatch: Any
) -> None:
    monkeypatch.setitem(app.config, "PASSWORD_FORGOT_LIMIT_PER_EMAIL", "2 per hour")
    ask_for_link(client, "sam@example.com")
    ask_for_link(client, "sam@example.com")

    limited = ask_for_link(client, "sam@example.com")

    assert limited.status_code == 429
    assert "try again in" in page(limited.data).find("main").get_text()
    assert ask_for_link(client, "nobody@example.com").status_code == 303


def test_bad_forgot_password_input_is_shown_next_to_the_field(client: FlaskClient) -> None:
    response = ask_for_link(client, "not an address")

    assert response.status_code == 422
    assert "like name@example.com" in page(response.data).find(id="email-error").get_text()
