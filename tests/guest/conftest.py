"""Helpers for the guest tests: orders created through the JSON API, form posts with a CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.extensions import db
from portal.orders import access
from portal.orders.models import Order
from tests.conftest import ApiClient, IsolatedClient, csrf_token
from tests.factories import order_body


def put_order(api: ApiClient, number: str, email: str = "ada@example.com", **overrides: Any) -> Order:
    response = api.put(f"/orders/{number}", json=order_body(email=email, **overrides))
    assert response.status_code in (200, 201), response.get_json()
    order = db.session.scalar(db.select(Order).where(Order.number == number))
    assert order is not None
    return order


@pytest.fixture
def order(api: ApiClient) -> Order:
    return put_order(api, "DS-1001", "Ada@Example.com")


def form_token(client: FlaskClient) -> str:
    return csrf_token(client.get("/track").get_data(as_text=True))


def post_lookup(
    client: FlaskClient, order_number: str, email: str, path: str = "/track", **kwargs: Any
) -> Any:
    data = {"csrf_token": form_token(client), "order_number": order_number, "email": email}
    return client.post(path, data=data, **kwargs)


def granted_order_ids(client: FlaskClient) -> frozenset[int]:
    """What `portal.orders.access.granted_order_ids()` answers for this client's browser session."""
    with client.session_transaction() as cookie_session:
        stored = dict(cookie_session)
    with client.application.test_request_context():
        flask.session.update(stored)
        return access.granted_order_ids()


def without_csrf_tokens(html: str) -> str:
    html = re.sub(r'(name="csrf_token"[^>]*value=")[^"]*"', r'\1"', html)
    return re.sub(r'("X-CSRFToken": ")[^"]*"', r'\1"', html)


@pytest.fixture
def make_app(app: Flask, app_config: dict[str, Any]) -> Iterator[Any]:
    """Build a second app on the same database and Redis with some settings changed (e.g. low limits)."""
    built: list[Flask] = []

    def make(**settings: Any) -> Flask:
        other = create_app({**app_config, **settings})
        other.test_client_class = IsolatedClient
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()
