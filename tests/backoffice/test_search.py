"""Staff search: each identifier, the filters, live results (htmx fragment) and pages."""

from __future__ import annotations

from typing import Any

from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from sqlalchemy import event

from portal.backoffice import search
from portal.extensions import db
from tests.backoffice.conftest import page, text_of
from tests.factories import event_body, order_body, shipment_body
from tests.orders.test_views import make_order


def numbers(response: Any) -> list[str]:
    html = response if isinstance(response, BeautifulSoup) else page(response)
    return [link.text for link in html.select("#search-results tbody td:first-child a")]


def orders(api: Any) -> None:
    make_order(api, "1001")  # Ada Lovelace, ada.lovelace@example.com, parcel T1001
    make_order(
        api,
        "2002",
        email="grace.hopper@example.org",
        customer_name="Grace Hopper",
        placed_at="2026-09-01T10:00:00+00:00",
    )
    make_order(api, "2003", email="Tim@Example.net", customer_name="tim berners-lee", events=0)


def test_each_identifier_finds_its_order(agent_client: FlaskClient, api: Any) -> None:
    orders(api)
    for query, expected in [
        ("1001", ["1001"]),
        ("200", ["2003", "2002"]),  # prefix, newest first
        ("ada.lovelace@", ["1001"]),
        ("GRACE.HOPPER@EXAMPLE.ORG", ["2002"]),  # e-mails are matched whatever their case
        ("grace", ["2002"]),  # the e-mail's start and the name's start
        ("Tim Bern", ["2003"]),  # names whatever their case
        ("T2002", ["2002"]),  # tracking number
        ("t100", ["1001"]),
        ("nobody", []),
    ]:
        response = agent_client.get("/backoffice/", query_string={"q": query})
        assert response.status_code == 200
        assert numbers(response) == expected, query


def test_live_results_are_a_fragment(agent_client: FlaskClient, api: Any) -> None:
    orders(api)
    response = agent_client.get("/backoffice/", query_string={"q": "ada"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="search-results"')
    assert "<html" not in html and "1001" in html
    assert "HX-Request" in response.headers["Vary"]


def test_filters(agent_client: FlaskClient, api: Any) -> None:
    orders(api)
    api.post("/orders/2002/events", json={"type": "cancelled", "occurred_at": "2026-09-02T10:00:00+00:00"})
    assert numbers(agent_client.get("/backoffice/?status=cancelled")) == ["2002"]
    assert numbers(agent_client.get("/backoffice/?from=2026-09-01&until=2026-09-30")) == ["2002"]
    assert numbers(agent_client.get("/backoffice/?from=2026-10-01")) == ["2003", "1001"]
    assert numbers(agent_client.get("/backoffice/?exception=1")) == []
    event = event_body("x1", "exception", "2026-10-12T09:00:00+02:00", tracking_number="T1001")
    assert api.post("/tracking-events", json=event).status_code == 200
    assert numbers(agent_client.get("/backoffice/?exception=1")) == ["1001"]


def test_bad_filters_are_refused_with_a_message(agent_client: FlaskClient) -> None:
    response = agent_client.get("/backoffice/?from=yesterday&status=lost")
    assert response.status_code == 422
    html = page(response)
    assert html.select_one("#from-error") is not None and html.select_one("#status-error") is not None
    assert html.select_one("#from")["aria-describedby"] == "from-error"
    response = agent_client.get("/backoffice/?from=2026-10-05&until=2026-10-01")
    assert response.status_code == 422 and "must not be before" in text_of(response)


def test_results_are_paginated(agent_client: FlaskClient, api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(search, "PER_PAGE", 2)
    for number in ("3001", "3002", "3003"):
        assert api.put(f"/orders/{number}", json=order_body()).status_code == 201
    first = agent_client.get("/backoffice/?q=300")
    assert numbers(first) == ["3003", "3002"]  # same time placed: the later order first
    assert "Page 1 of 2" in text_of(first)
    link = page(first).select_one('a[rel="next"]')
    assert link is not None and "q=300" in link["href"]
    second = agent_client.get(link["href"])
    assert numbers(second) == ["3001"]


def test_search_works_without_javascript(agent_client: FlaskClient) -> None:
    html = page(agent_client.get("/backoffice/"))
    form = html.select_one("form[role=search]")
    assert form["method"] == "get" and form["action"] == "/backoffice/"
    assert html.select_one('label[for="q"]') is not None


def test_text_and_filters_together(agent_client: FlaskClient, api: Any) -> None:
    orders(api)
    api.post("/orders/2002/events", json={"type": "cancelled", "occurred_at": "2026-09-02T10:00:00+00:00"})
    assert numbers(agent_client.get("/backoffice/?q=200&status=cancelled")) == ["2002"]
    assert numbers(agent_client.get("/backoffice/?q=200&from=2026-10-01")) == ["2003"]
    assert numbers(agent_client.get("/backoffice/?q=t100&status=cancelled")) == []  # by parcel, filtered
    event = event_body("x1", "exception", "2026-10-12T09:00:00+02:00", tracking_number="T1001")
    assert api.post("/tracking-events", json=event).status_code == 200
    assert numbers(agent_client.get("/backoffice/?q=t1&exception=1")) == ["1001"]


def test_each_order_once_with_all_its_parcels(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "4001")  # parcel T4001 with the shirts
    cap = shipment_body(items=[{"sku": "CAP-01", "quantity": 1}])
    assert api.put("/orders/4001/shipments/T4001B", json=cap).status_code == 201
    html = page(agent_client.get("/backoffice/?q=T4001"))  # both parcels match
    assert numbers(html) == ["4001"]
    parcels = [parcel.text.split()[0] for parcel in html.select("#search-results .backoffice-parcel")]
    assert parcels == ["T4001", "T4001B"]
    assert "1 order found" in text_of(agent_client.get("/backoffice/?q=T4001"))


def test_a_page_past_the_last_shows_the_last(agent_client: FlaskClient, api: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(search, "PER_PAGE", 2)
    for number in ("3001", "3002", "3003"):
        assert api.put(f"/orders/{number}", json=order_body()).status_code == 201
    response = agent_client.get("/backoffice/?q=300&page=9")
    assert numbers(response) == ["3001"] and "Page 2 of 2" in text_of(response)


def test_a_search_is_one_statement(app: Any, api: Any) -> None:
    orders(api)
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", record)
        try:
            for filters in (search.Filters(query="200"), search.Filters(status="placed"), search.Filters()):
                seen.clear()
                search.search_orders(filters)
                assert len(seen) == 1, filters
        finally:
            event.remove(db.engine, "before_cursor_execute", record)
