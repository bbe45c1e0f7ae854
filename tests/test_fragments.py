"""The page cache (portal/fragments.py): pages are served from Redis, yet every change shows at once, each
session gets its own CSRF token, access is checked on every request, and a page never fails for the cache."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from bs4 import BeautifulSoup
from flask import Flask, template_rendered
from sqlalchemy import event

from portal import fragments
from portal.extensions import db
from tests.conftest import IsolatedClient, csrf_token
from tests.factories import event_body, shipment_body
from tests.orders.test_views import grant, make_order, page, shopper, sign_in


@pytest.fixture(autouse=True)
def page_cache(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PAGE_CACHE_SECONDS", 60)


def page_of(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


class Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    @property
    def count(self) -> int:
        return len(self.seen)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(statement)


@pytest.fixture
def statements() -> Iterator[Statements]:
    counter = Statements()
    event.listen(db.engine, "before_cursor_execute", counter)
    yield counter
    event.remove(db.engine, "before_cursor_execute", counter)


def get(client: Any, path: str, statements: Statements, **kwargs: Any) -> tuple[Any, int]:
    """The response and the statements it ran (less the shop settings, which tests read on every request)."""
    before = statements.count
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.status_code
    return response, sum("shop_setting_overrides" not in s for s in statements.seen[before:])


def test_the_order_page_comes_from_the_cache_until_the_carrier_reports_again(
    client: Any, api: Any, statements: Statements
) -> None:
    make_order(api, events=3)
    grant(client, "1001")
    first, rendered = get(client, "/orders/1001", statements)
    again, served = get(client, "/orders/1001", statements)
    assert served == 1 < rendered  # only the order row, for the access check
    assert page(again).select_one("main").text == page(first).select_one("main").text
    assert "Hamburg" not in page(again).text

    scan = event_body(
        "1001-late",
        "out_for_delivery",
        "2026-10-13T07:00:00+02:00",
        tracking_number="T1001",
        location={"city": "Hamburg", "country": "DE"},
    )
    assert api.post("/tracking-events", json={"events": [scan]}).status_code == 200
    fresh = page(client.get("/orders/1001"))
    card = fresh.select_one("#parcel-T1001")
    assert "Hamburg" in card.text and "Out for delivery" in card.text


def test_each_language_and_viewer_kind_has_its_own_copy(client: Any, api: Any) -> None:
    user = shopper()
    make_order(api, email=user.email)
    grant(client, "1001")
    guest_view = page(client.get("/orders/1001"))
    german = page(client.get("/orders/1001", headers={"Accept-Language": "de"}))
    assert "Sendungshistorie" in german.text and "Tracking history" in guest_view.text
    owner = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    sign_in(owner, user)
    owner_view = page(owner.get("/orders/1001"))
    assert "Hauptstraße 1" in owner_view.select_one("address").text
    assert "Hauptstraße 1" not in page(client.get("/orders/1001")).select_one("address").text


def test_access_is_checked_before_anything_stored_is_served(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    assert client.get("/orders/1001").status_code == 200
    stranger = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    assert stranger.get("/orders/1001").status_code == 404


def test_a_stored_page_carries_each_sessions_own_csrf_token(client: Any) -> None:
    user = shopper()
    sign_in(client, user)
    assert client.get("/loyalty").status_code == 200  # now stored
    other_browser = IsolatedClient(client.application, client.response_wrapper, use_cookies=True)
    sign_in(other_browser, user)
    stored_page = other_browser.get("/loyalty").data.decode()
    form = page_of(stored_page).select_one('form[action$="/loyalty/birthday"]')
    token = form.select_one('input[name="csrf_token"]')["value"]
    assert fragments.CSRF_PLACEHOLDER not in stored_page
    assert token == csrf_token(stored_page)  # the one the page's own header forms carry
    # The token works for this browser's session (and the change shows on the next view).
    saved = other_browser.post("/loyalty/birthday", data={"birthday": "1990-03-14", "csrf_token": token})
    assert saved.status_code == 303
    assert page(client.get("/loyalty")).select_one("#birthday")["value"] == "1990-03-14"


def test_the_order_list_follows_a_new_parcel_status(client: Any, api: Any, statements: Statements) -> None:
    user = shopper()
    make_order(api, email=user.email)
    sign_in(client, user)
    _, rendered = get(client, "/orders", statements)
    listing, served = get(client, "/orders", statements)
    assert served < rendered
    assert "Delivered" not in page(listing).select_one("#order-list").text
    delivered = event_body("1001-done", "delivered", "2026-10-14T10:00:00+02:00", tracking_number="T1001")
    assert api.post("/tracking-events", json={"events": [delivered]}).status_code == 200
    assert "Delivered" in page(client.get("/orders")).select_one("#order-list").text
    # A second parcel added to the order shows too.
    second = shipment_body(items=[{"sku": "CAP-01", "quantity": 1}])
    assert api.put("/orders/1001/shipments/SECOND", json=second).status_code == 201
    assert "of 2 parcels delivered" in page(client.get("/orders")).select_one("#order-list").text


def test_pages_still_work_without_redis(client: Any, api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    make_order(api)
    grant(client, "1001")

    class Down:
        def __getattr__(self, name: str) -> Any:
            def refuse(*args: Any, **kwargs: Any) -> Any:
                raise redis.ConnectionError("Redis is down")

            return refuse

    monkeypatch.setattr(fragments, "redis_connection", lambda: Down())
    for _ in range(2):
        response = client.get("/orders/1001")
        assert response.status_code == 200 and "T1001" in page(response).select_one("#parcel-T1001").text


def test_nothing_is_dropped_for_a_transaction_that_rolled_back(app: Flask, client: Any, api: Any) -> None:
    from portal.orders.models import Order

    make_order(api)
    grant(client, "1001")
    client.get("/orders/1001")
    key = fragments.KEY_PREFIX + "order:1"
    connection = fragments.redis_connection()
    assert connection.exists(key)
    order = db.session.get(Order, 1)
    order.ship_city = "Potsdam"
    db.session.flush()
    db.session.rollback()
    assert connection.exists(key)
    order = db.session.get(Order, 1)
    order.ship_city = "Potsdam"
    db.session.commit()
    assert not connection.exists(key)
    assert "Potsdam" in page(client.get("/orders/1001")).select_one("address").text


@pytest.fixture
def templates_rendered(app: Flask) -> Iterator[list[str]]:
    names: list[str] = []

    def record(sender: Flask, template: Any, context: dict[str, Any], **extra: Any) -> None:
        names.append(template.name)

    template_rendered.connect(record, app)
    yield names
    template_rendered.disconnect(record, app)


def test_a_stored_page_is_served_without_rendering_a_template(
    client: Any, api: Any, templates_rendered: list[str]
) -> None:
    make_order(api)
    grant(client, "1001")
    first = client.get("/orders/1001").data.decode()
    assert "orders/detail.html" in templates_rendered
    templates_rendered.clear()
    again = client.get("/orders/1001").data.decode()
    assert templates_rendered == []
    assert again == first  # the same session, so the same CSRF token put back


def test_a_flashed_message_shows_once_on_a_stored_page(client: Any) -> None:
    user = shopper()
    sign_in(client, user)
    assert "birthday is saved" not in client.get("/loyalty").data.decode()  # now stored
    token = csrf_token(client.get("/loyalty").data.decode())
    saved = client.post("/loyalty/birthday", data={"birthday": "1990-03-14", "csrf_token": token})
    assert saved.status_code == 303
    flashed = page(client.get("/loyalty"))
    assert "Your birthday is saved." in flashed.select_one("#flashes").text
    assert flashed.select_one("#birthday")["value"] == "1990-03-14"
    assert page(client.get("/loyalty")).select_one("#flashes").text.strip() == ""


def test_the_header_of_a_stored_page_follows_who_is_signed_in(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    signed_out = page(client.get("/orders/1001"))
    assert signed_out.select_one('.site-nav a[href="/login"]') is not None
    sign_in(client, shopper("someone.else@example.com"))  # keeps the guest grant: the same viewer kind
    signed_in = page(client.get("/orders/1001"))
    assert signed_in.select_one(".site-nav form.sign-out") is not None
    assert signed_in.select_one('.site-nav a[href="/login"]') is None
    assert signed_in.select_one("#parcel-T1001") is not None


def test_a_url_with_a_query_string_stores_only_the_main_part(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    client.get("/orders/1001?utm_source=mail")
    client.get("/orders/1001?utm_source=sms")
    fields = fragments.redis_connection().hkeys(fragments.KEY_PREFIX + "order:1")
    assert len(fields) == 1 and b":content:" in fields[0]
