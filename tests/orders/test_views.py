"""The order list and order page as shoppers and guests see them."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import event, select

from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from portal.orders.models import Order
from tests.factories import event_body, order_body, shipment_body


def sign_in(client: Any, user: User) -> None:
    """Put the user in the session the way Flask-Login does after a successful sign-in."""
    with client.session_transaction() as session:
        session["_user_id"] = user.auth_id
        session["_fresh"] = True


def grant(client: Any, number: str) -> None:
    order_id = db.session.scalar(select(Order.id).where(Order.number == number))
    with client.session_transaction() as session:
        session["order_grants"] = {str(order_id): time.time() + 3600}


def shopper(email: str = "ada.lovelace@example.com", role: str = "shopper") -> User:
    user = create_user(email, "correct-horse-battery-staple", role=role, name="Ada", verified=True)
    db.session.commit()
    return user


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def make_order(api: Any, number: str = "1001", events: int = 3, **overrides: Any) -> None:
    assert api.put(f"/orders/{number}", json=order_body(**overrides)).status_code == 201
    assert api.put(f"/orders/{number}/shipments/T{number}", json=shipment_body()).status_code == 201
    batch = [
        event_body(
            f"{number}-e{i}",
            "in_transit",
            f"2026-10-11T{8 + i % 12:02d}:{i % 60:02d}:00+02:00",
            tracking_number=f"T{number}",
            location={"city": f"City {i}", "country": "DE"},
        )
        for i in range(events)
    ]
    if batch:
        assert api.post("/tracking-events", json={"events": batch}).status_code == 200


def test_guest_with_a_grant_sees_the_parcel_and_a_masked_address(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    response = client.get("/orders/1001")
    assert response.status_code == 200
    html = page(response)
    card = html.select_one("#parcel-T1001")
    assert card is not None
    assert "On its way" in card.text
    assert "DHL" in card.text and "T1001" in card.text
    assert card["data-refresh-url"] == "/orders/1001/shipments/T1001"
    titles = [item.select_one(".timeline__meta").text for item in card.select(".timeline__item")]
    assert "City 2" in titles[0] and "City 0" in titles[-1]  # newest first
    address = html.select_one("address").text
    assert "Hauptstraße 1" not in address and "Berlin" in address
    assert "Not shipped yet" in html.text  # the cap travels separately
    assert response.headers["Cache-Control"] == "no-store"


def test_the_owner_sees_the_full_address_and_no_sign_in_prompt(client: Any, api: Any) -> None:
    user = shopper()
    make_order(api)
    sign_in(client, user)
    html = page(client.get("/orders/1001"))
    assert "Hauptstraße 1" in html.select_one("address").text
    assert "belongs to an account" not in html.text


def test_a_guest_looking_up_an_account_order_is_asked_to_sign_in(client: Any, api: Any) -> None:
    shopper()
    make_order(api)
    grant(client, "1001")
    assert "This order belongs to an account" in page(client.get("/orders/1001")).text


def test_promised_window_and_dates_in_the_viewers_language(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    english = page(client.get("/orders/1001")).select_one("#parcel-T1001").text
    assert "Expected Tue, Oct 13\u2009–\u2009Thu, Oct 15" in english
    german = page(client.get("/orders/1001", headers={"Accept-Language": "de"})).select_one("#parcel-T1001")
    assert "13." in german.text and "Okt" in german.text


def test_exceptions_are_explained(client: Any, api: Any) -> None:
    make_order(api, events=0)
    api.post(
        "/tracking-events",
        json=event_body("x1", "failed_attempt", "2026-10-12T09:00:00Z", tracking_number="T1001"),
    )
    grant(client, "1001")
    card = page(client.get("/orders/1001")).select_one("#parcel-T1001")
    assert "tried to deliver" in card.text


def test_delivered_parcels_stop_refreshing(client: Any, api: Any) -> None:
    make_order(api, events=0)
    api.post(
        "/tracking-events",
        json=event_body("d1", "delivered", "2026-10-13T12:00:00Z", tracking_number="T1001"),
    )
    grant(client, "1001")
    card = page(client.get("/orders/1001")).select_one("#parcel-T1001")
    assert not card.has_attr("data-refresh-url")
    assert "Delivered on" in card.text


def test_the_card_fragment_for_htmx(client: Any, api: Any) -> None:
    make_order(api)
    grant(client, "1001")
    response = client.get("/orders/1001/shipments/T1001", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.data
    assert b"T1001" in response.data
    assert "HX-Request" in response.headers["Vary"]
    plain = client.get("/orders/1001/shipments/T1001")
    assert plain.status_code == 302
    assert plain.headers["Location"].endswith("/orders/1001#parcel-T1001")
    assert client.get("/orders/1001/shipments/NOPE", headers={"HX-Request": "true"}).status_code == 404


def count_queries(app: Any, client: Any, path: str) -> int:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_the_order_page_runs_a_constant_number_of_queries(app: Any, client: Any, api: Any) -> None:
    user = shopper()
    make_order(api, "1001", events=2)
    make_order(api, "1002", events=60)
    api.put("/orders/1002/shipments/SECOND", json=shipment_body(items=[{"sku": "CAP-01", "quantity": 1}]))
    sign_in(client, user)
    small = count_queries(app, client, "/orders/1001")
    large = count_queries(app, client, "/orders/1002")
    # 10: the order, items, shipments (with risks), their items and events, the user, instructions, messages,
    # the returns section (the order's returns with their lines) and the shop's settings (brand name, colour).
    assert small == large <= 10


def test_the_order_list_is_the_shoppers_own_newest_first(client: Any, api: Any) -> None:
    user = shopper()
    make_order(api, "1001", placed_at="2026-10-01T10:00:00Z")
    make_order(api, "1002", placed_at="2026-10-05T10:00:00Z")
    make_order(api, "9999", email="someone.else@example.com")
    sign_in(client, user)
    html = page(client.get("/orders"))
    numbers = [re.sub(r"\D", "", a.text) for a in html.select(".order-summary h2 a")]
    assert numbers == ["1002", "1001"]


def test_the_order_list_paginates(app: Any, client: Any, api: Any) -> None:
    user = shopper()
    for number in range(1001, 1023):
        make_order(api, str(number), events=0, placed_at=f"2026-10-01T10:{number - 1000:02d}:00Z")
    sign_in(client, user)
    first = page(client.get("/orders"))
    assert len(first.select(".order-summary")) == 20
    second = page(client.get("/orders?page=2"))
    assert [a.text.split()[-1] for a in second.select(".order-summary h2 a")] == ["1002", "1001"]
    assert client.get("/orders?page=9").status_code == 404
    assert client.get("/orders?page=-1").status_code == 404


def test_the_order_list_needs_an_account(client: Any) -> None:
    response = client.get("/orders")
    assert response.status_code in (302, 401)


@pytest.mark.parametrize("number", ["nope", "1001%00", "x" * 300])
def test_unknown_orders_are_404(client: Any, api: Any, number: str) -> None:
    make_order(api)
    assert client.get(f"/orders/{number}").status_code == 404


@pytest.mark.parametrize("page_number", ["0", "-1", "2", "999999999999999999999", "abc"])
def test_impossible_pages_of_the_order_list(client: Any, api: Any, page_number: str) -> None:
    user = shopper()
    make_order(api, events=0)
    sign_in(client, user)
    response = client.get(f"/orders?page={page_number}")
    assert response.status_code == (200 if page_number == "abc" else 404)
