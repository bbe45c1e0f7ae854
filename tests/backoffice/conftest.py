"""Helpers for the back-office tests: staff of each role signed in, orders made through the API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from argon2 import PasswordHasher
from bs4 import BeautifulSoup
from flask.testing import FlaskClient

from portal.accounts import service as accounts_service
from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import csrf_token
from tests.orders.test_views import sign_in

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def make_user(email: str, role: str = "shopper", name: str = "Sam Staff") -> User:
    user = create_user(email, PASSWORD, role, name, verified=True)
    db.session.commit()
    return user


@pytest.fixture
def agent(app: Any) -> User:
    return make_user("agent@example.com", "agent", "Alex Agent")


@pytest.fixture
def admin(app: Any) -> User:
    return make_user("admin@example.com", "admin", "Ada Admin")


@pytest.fixture
def agent_client(client: FlaskClient, agent: User) -> FlaskClient:
    sign_in(client, agent)
    return client


@pytest.fixture
def admin_client(client: FlaskClient, admin: User) -> FlaskClient:
    sign_in(client, admin)
    return client


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def post(
    client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, form_page: str = "/backoffice/"
) -> Any:
    """POST like a browser: the CSRF token comes from a page of the same session."""
    token = csrf_token(client.get(form_page).get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})})


def text_of(response: Any) -> str:
    return re.sub(r"\s+", " ", page(response).get_text(" "))
