"""Helpers for the account tests: users, signing in through the login form, reading the e-mails received."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from portal.accounts import service
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import csrf_token

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "purple tractor umbrella sonnet"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its production cost takes up to a second on a busy machine; these tests are about
    behaviour, not hashing cost. (A miss still verifies against the full-cost dummy hash.)"""
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


def page(html: bytes | str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def make_user(
    email: str = "sam@example.com", *, verified: bool = True, role: str = "shopper", **fields: Any
) -> User:
    user = create_user(email, PASSWORD, role, fields.pop("name", "Sam Shopper"), verified=verified)
    for name, value in fields.items():
        setattr(user, name, value)
    db.session.commit()
    return user


@pytest.fixture
def shopper(app: Any) -> User:
    return make_user()


def post_form(client: FlaskClient, path: str, data: dict[str, Any], *, form_page: str | None = None) -> Any:
    """POST `data` like a browser: first GET the page the form is on, for the CSRF token."""
    html = client.get(form_page or path).get_data(as_text=True)
    return client.post(path, data={"csrf_token": csrf_token(html), **data})


def sign_in(
    client: FlaskClient, email: str = "sam@example.com", password: str = PASSWORD, **extra: Any
) -> Any:
    return post_form(client, "/login", {"email": email, "password": password, **extra})


def confirm_address(client: FlaskClient, link: str, password: str = PASSWORD) -> Any:
    """Open a verification link and send the account's password, as on the page the link opens."""
    return post_form(client, link, {"password": password})


def is_signed_in(client: FlaskClient) -> bool:
    nav = page(client.get("/").data).find("nav")
    return nav.find("button", string=re.compile("Sign out")) is not None


def fresh(user: User) -> User:
    """The user as the database has it now (requests run in their own sessions)."""
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def link_in(message: EmailMessage, prefix: str) -> str:
    """The path of the first link in the plain-text body whose path starts with `prefix`."""
    for url in re.findall(r"https?://\S+", text_of(message)):
        path = urlsplit(url).path
        if path.startswith(prefix):
            return path
    raise AssertionError(f"no {prefix} link in:\n{text_of(message)}")


def mails_to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [message for message in messages if address in str(message["To"])]


def without_csrf(html: str) -> str:
    return html.replace(csrf_token(html), "CSRF")
