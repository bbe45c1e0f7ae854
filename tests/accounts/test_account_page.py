"""The account page: profile and preferences, changing the e-mail address and the password."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from portal.accounts import service
from portal.accounts.models import User
from portal.audit import AuditEntry
from portal.errors import Invalid
from portal.extensions import db
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
)

PROFILE = {
    "name": "Sam Shopper",
    "phone": "",
    "locale": "en",
    "timezone": "Europe/London",
    "updates_email": "y",
}


def save_profile(client: FlaskClient, **changes: Any) -> Any:
    data = {key: value for key, value in {**PROFILE, **changes}.items() if value is not None}
    return post_form(client, "/account", data, form_page="/account")


@pytest.fixture
def signed_in(client: FlaskClient, shopper: User) -> User:
    sign_in(client)
    return shopper


def test_account_page_shows_the_stored_preferences(client: FlaskClient, signed_in: User) -> None:
    soup = page(client.get("/account").data)

    form = soup.find("form", action="/account")
    assert form.find("input", attrs={"name": "name"})["value"] == "Sam Shopper"
    assert form.find("input", attrs={"name": "name"})["autocomplete"] == "name"
    assert form.find("input", attrs={"name": "phone"})["autocomplete"] == "tel"
    assert form.find("input", attrs={"name": "phone"})["type"] == "tel"
    assert form.find("select", attrs={"name": "locale"}).find("option", selected=True)["value"] == "en"
    zones = [option["value"] for option in form.find("select", attrs={"name": "timezone"}).find_all("option")]
    assert "Europe/Berlin" in zones and "America/New_York" in zones
    # Defaults: transactional updates by e-mail, no SMS, follow-ups by e-mail, no marketing.
    checked = {box["name"] for box in form.find_all("input", type="checkbox") if box.has_attr("checked")}
    assert checked == {"updates_email", "followups_email"}
    assert soup.find("form", action="/account/email").find("input", attrs={"name": "current_password"})
    password_form = soup.find("form", action="/account/password")
    assert password_form.find("input", attrs={"name": "password"})["autocomplete"] == "new-password"
    ids = [tag["id"] for tag in soup.find_all(id=True)]
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_profile_and_channel_preferences_are_saved(client: FlaskClient, signed_in: User) -> None:
    response = save_profile(
        client,
        name="  Sam S. ",
        phone="+49 (30) 123-4567",
        locale="de",
        timezone="Europe/Berlin",
        updates_email="y",
        updates_sms="y",
        followups_email=None,
        marketing_consent="y",
    )

    assert response.status_code == 303 and response.location == "/account"
    user = fresh(signed_in)
    assert (user.name, user.phone, user.locale, user.timezone) == (
        "Sam S.",
        "+49301234567",
        "de",
        "Europe/Berlin",
    )
    assert user.channel_preferences == {
        "updates": {"email": True, "sms": True},
        "followups": {"email": False, "sms": False},
    }
    assert user.marketing_consent is True
    soup = page(client.get("/account").data)
    assert soup.find("html")["lang"] == "de"
    assert soup.find(id="flashes").get_text(strip=True)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.profile_changed"))
    assert entry is not None and entry.after["marketing_consent"] is True


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "Choose a time zone"),
        ({"timezone": "Europe"}, "timezone", "Choose a time zone"),
        ({"timezone": "../../etc/passwd"}, "timezone", "Choose a time zone"),
        ({"phone": "call me maybe"}, "phone", "international format"),
        ({"phone": "030 1234567"}, "phone", "international format"),
        ({"phone": "+1" + "2" * 40}, "phone", "too long"),
        ({"updates_sms": "y"}, "phone", "Add a mobile number"),
        ({"name": ""}, "name", "Enter your name"),
        ({"name": "n" * 201}, "name", "at most 200"),
        ({"name": "Sam\x00"}, "name", "letters, digits"),
        ({"locale": "xx"}, "locale", "valid choice"),
    ],
)
def test_bad_profile_input_is_shown_next_to_the_field_and_nothing_is_saved(
    client: FlaskClient, signed_in: User, changes: dict[str, str], field: str, message: str
) -> None:
    response = save_profile(client, marketing_consent="y", **changes)

    assert response.status_code == 422
    soup = page(response.data)
    control = soup.find("form", action="/account").find(attrs={"name": field})
    assert control["aria-invalid"] == "true"
    error = soup.find(id=f"{control['id']}-error")
    assert error is not None and message in error.get_text()
    assert fresh(signed_in).marketing_consent is False


def test_profile_service_refuses_what_the_form_would(shopper: User) -> None:
    changes = service.ProfileChanges(
        name="Sam",
        phone="",
        locale="en",
        timezone="Nowhere/Special",
        channel_preferences={},
        marketing_consent=False,
    )

    with pytest.raises(Invalid) as raised:
        service.update_profile(shopper, changes)
    assert "timezone" in raised.value.fields


def test_changing_the_email_address_needs_the_current_password(client: FlaskClient, signed_in: User) -> None:
    response = post_form(
        client,
        "/account/email",
        {"email": "sam.new@example.com", "current_password": "a wrong one"},
        form_page="/account",
    )

    assert response.status_code == 422
    soup = page(response.data)
    control = soup.find("form", action="/account/email").find(attrs={"name": "current_password"})
    assert "not your current password" in soup.find(id=f"{control['id']}-error").get_text()
    assert fresh(signed_in).email == "sam@example.com"


def test_changing_the_email_address_to_a_taken_one_is_refused(client: FlaskClient, signed_in: User) -> None:
    make_user("kim@example.com")

    response = post_form(
        client,
        "/account/email",
        {"email": "KIM@example.com", "current_password": PASSWORD},
        form_page="/account",
    )

    assert response.status_code == 422
    assert "Another account" in page(response.data).find(id="new-email-error").get_text()
    assert fresh(signed_in).email == "sam@example.com"


def test_changing_the_email_address_asks_to_verify_the_new_one_and_tells_the_old(
    client: FlaskClient, signed_in: User, mailbox: Any, run_worker: Any
) -> None:
    response = post_form(
        client,
        "/account/email",
        {"email": "Sam.New@Example.com", "current_password": PASSWORD},
        form_page="/account",
    )

    assert response.status_code == 303
    user = fresh(signed_in)
    assert user.email == "sam.new@example.com" and user.email_verified_at is None
    soup = page(client.get("/account").data)
    assert "sam.new@example.com" in soup.find(id="flashes").get_text()
    assert soup.find("form", action="/account/verification") is not None

    assert run_worker("messages").returncode == 0
    messages = mailbox.wait_for(2)
    [notice] = mails_to(messages, "sam@example.com")
    assert "sam.new@example.com" in text_of(notice)
    link = link_in(mails_to(messages, "sam.new@example.com")[0], "/verify/")
    assert client.get(link).status_code == 200
    assert fresh(signed_in).email_verified_at is None
    assert confirm_address(client, link).status_code == 303
    assert fresh(signed_in).email_verified_at is not None
    assert is_signed_in(client)


def test_changing_the_password_keeps_this_session_and_ends_the_others(
    app: Flask, client: FlaskClient, signed_in: User
) -> None:
    elsewhere = app.test_client()
    sign_in(elsewhere)

    response = post_form(
        client,
        "/account/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        form_page="/account",
    )

    assert response.status_code == 303
    assert client.get("/account").status_code == 200
    assert not is_signed_in(elsewhere)
    assert service.verify_password(fresh(signed_in).password_hash, NEW_PASSWORD)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"current_password": "a wrong one"}, "current_password", "not your current password"),
        ({"password": "short", "confirm": "short"}, "password", "at least 8"),
        ({"password": "qwertyuiop", "confirm": "qwertyuiop"}, "password", "too common"),
        ({"password": "sam@example.com 2", "confirm": "sam@example.com 2"}, "password", "email address"),
        ({"confirm": "not the same at all"}, "confirm", "not the same"),
    ],
)
def test_bad_password_changes_are_refused(
    client: FlaskClient, signed_in: User, data: dict[str, str], field: str, message: str
) -> None:
    form = {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, **data}

    response = post_form(client, "/account/password", form, form_page="/account")

    assert response.status_code == 422
    soup = page(response.data)
    control = soup.find("form", action="/account/password").find(attrs={"name": field})
    assert message in soup.find(id=f"{control['id']}-error").get_text()
    assert service.verify_password(fresh(signed_in).password_hash, PASSWORD)


def test_wrong_current_passwords_are_rate_limited(
    client: FlaskClient, app: Flask, signed_in: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "ACCOUNT_CHANGE_LIMIT", "2 per 15 minutes")
    wrong = {"current_password": "a wrong one", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for _attempt in range(2):
        assert post_form(client, "/account/password", wrong, form_page="/account").status_code == 422

    assert post_form(client, "/account/password", wrong, form_page="/account").status_code == 429


def test_account_posts_without_csrf_token_are_refused(client: FlaskClient, signed_in: User) -> None:
    for path, data in [
        ("/account", {**PROFILE, "name": "Changed"}),
        ("/account/email", {"email": "x@example.com", "current_password": PASSWORD}),
        (
            "/account/password",
            {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        ),
        ("/logout", {}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    assert fresh(signed_in).name == "Sam Shopper"
    assert is_signed_in(client)


def test_account_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    for path in ("/account", "/account/email", "/account/password", "/account/verification"):
        response = client.get(path) if path == "/account" else post_form(client, path, {}, form_page="/login")
        assert response.status_code == 302, path
        assert response.location.startswith("/login?next=")


def test_the_language_switch_stores_a_signed_in_users_language_with_an_audit_entry(
    client: FlaskClient, signed_in: User
) -> None:
    response = post_form(client, "/language", {"locale": "de", "next": "/account"}, form_page="/account")

    assert response.status_code == 303 and response.location == "/account"
    assert fresh(signed_in).locale == "de"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.locale_changed"))
    assert entry is not None and entry.actor_user_id == signed_in.id
    assert (entry.before, entry.after) == ({"locale": None}, {"locale": "de"})
