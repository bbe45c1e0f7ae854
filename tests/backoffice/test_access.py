"""Who may open every back-office route: walks the URL map, so a new route is checked without listing it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal.extensions import db
from portal.messaging.models import Message
from portal.orders.models import Order
from tests.backoffice.conftest import make_user
from tests.conftest import csrf_token
from tests.orders.test_views import make_order, sign_in

VIEWERS = ("anonymous", "shopper", "guest", "agent", "admin")
ADMIN_ENDPOINTS = {
    "backoffice.settings",
    "backoffice.change_setting",
    "backoffice.reset_setting",
    "backoffice.staff",
    "backoffice.add_staff",
    "backoffice.change_staff",
    "backoffice.job_health",
    "backoffice.retry_job",
    "backoffice.delete_job",
}


def backoffice_rules(app: Flask) -> list[tuple[str, str]]:
    """(endpoint, method) of every back-office route."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/backoffice"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                found.append((rule.endpoint, method))
    return sorted(found)


def url_values(app: Flask, endpoint: str) -> dict[str, Any]:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    message_id = db.session.scalar(select(Message.id).order_by(Message.id)) or 1
    known: dict[str, Any] = {
        "number": "1001",
        "message_id": message_id,
        "delivery_id": 1,
        "user_id": 1,
        "name": "SHOP_NAME",
        "queue": "default",
        "job_id": "no-such-job",
        "rma": "R-NONE00",
        "action": "approve",
    }
    return {name: known[name] for name in rule.arguments}


def become(client: Any, viewer: str) -> None:
    if viewer == "shopper":
        sign_in(client, make_user("ada.lovelace@example.com"))
    elif viewer in ("agent", "admin"):
        sign_in(client, make_user(f"{viewer}@example.com", viewer))
    elif viewer == "guest":
        order_id = db.session.scalar(select(Order.id).where(Order.number == "1001"))
        with client.session_transaction() as session:
            session["order_grants"] = {str(order_id): time.time() + 3600}


def test_every_route_is_in_the_matrix(app: Flask) -> None:
    endpoints = {endpoint for endpoint, _ in backoffice_rules(app)}
    assert "backoffice.index" in endpoints and "backoffice.order" in endpoints
    assert endpoints >= ADMIN_ENDPOINTS


@pytest.mark.parametrize("viewer", VIEWERS)
def test_role_matrix(app: Flask, client: Any, api: Any, viewer: str) -> None:
    make_order(api, "1001")
    become(client, viewer)
    token = csrf_token(client.get("/").get_data(as_text=True))
    for endpoint, method in backoffice_rules(app):
        with app.test_request_context():
            from flask import url_for

            url = url_for(endpoint, **url_values(app, endpoint))
        if method == "GET":
            # buffered: a streamed body (a CSV export) is read while the request's context is still there
            response = client.get(url, buffered=True)
        else:
            response = client.post(url, data={"csrf_token": token}, buffered=True)
        where = (viewer, method, url)
        if viewer in ("anonymous", "shopper", "guest"):
            assert response.status_code == 404, where
        elif viewer == "agent" and endpoint in ADMIN_ENDPOINTS:
            assert response.status_code == 403, where
        elif method == "GET":
            assert response.status_code == 200, where
        else:
            assert response.status_code < 500, where
            assert response.status_code not in (400, 403), where


def test_the_navigation_shows_each_role_its_pages_in_its_language(app: Flask) -> None:
    from bs4 import BeautifulSoup

    def nav(client: Any, path: str) -> tuple[list[str], str]:
        html = BeautifulSoup(client.get(path).data, "html.parser").select_one("nav.backoffice-nav")
        assert html is not None
        current = html.select_one('[aria-current="page"]')
        return [link["href"] for link in html.select("a")], current.text if current else ""

    admin_client, agent_client = app.test_client(), app.test_client()
    sign_in(admin_client, make_user("admin@example.com", "admin", "Ada Admin"))
    sign_in(agent_client, make_user("agent@example.com", "agent", "Alex Agent"))
    links, current = nav(admin_client, "/backoffice/")
    assert "/backoffice/settings" in links and current == "Search"
    links, current = nav(agent_client, "/backoffice/")  # the same page for an agent: no admin pages
    assert "/backoffice/settings" not in links and "/backoffice/lanes" in links and current == "Search"
    assert nav(agent_client, "/backoffice/lanes")[1] == "Transit lanes"
    assert nav(agent_client, "/backoffice/?lang=de")[1] == "Suchen"
    assert nav(admin_client, "/backoffice/settings")[1] == "Settings"
