"""Dashboard figures on a known data set: 10 parcels with known transit days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask.testing import FlaskClient

from portal.backoffice import dashboard
from tests.backoffice.conftest import page
from tests.factories import event_body, order_body, shipment_body

# (carrier, transit days); every parcel is promised within 3 days, so 7 of the 10 are on time.
PARCELS = [
    ("DHL", 0),
    ("DHL", 1),
    ("DHL", 1),
    ("DHL", 2),
    ("DHL", 12),
    ("DPD", 2),
    ("DPD", 2),
    ("DPD", 3),
    ("DPD", 5),
    ("DPD", 10),
]
SHIPPED = datetime(2026, 9, 1, 8, 0, tzinfo=UTC)


def load(api: Any) -> None:
    events = []
    for index, (carrier, days) in enumerate(PARCELS):
        number, tracking = f"50{index:02d}", f"P50{index:02d}"
        shipped = SHIPPED + timedelta(days=index)
        assert (
            api.put(
                f"/orders/{number}", json=order_body(placed_at=(shipped - timedelta(hours=2)).isoformat())
            ).status_code
            == 201
        )
        body = shipment_body(
            carrier=carrier,
            shipped_at=shipped.isoformat(),
            promised_delivery={
                "earliest": (shipped + timedelta(days=1)).isoformat(),
                "latest": (shipped + timedelta(days=3, hours=12)).isoformat(),
            },
        )
        assert api.put(f"/orders/{number}/shipments/{tracking}", json=body).status_code == 201
        delivered = shipped + timedelta(days=days, hours=3)
        events.append(
            event_body(f"{tracking}-d", "delivered", delivered.isoformat(), tracking_number=tracking)
        )
    # one more parcel, still on its way
    assert api.put("/orders/5099", json=order_body(placed_at="2026-09-05T08:00:00+00:00")).status_code == 201
    body = shipment_body(shipped_at="2026-09-05T10:00:00+00:00")
    assert api.put("/orders/5099/shipments/P5099", json=body).status_code == 201
    assert api.post("/tracking-events", json={"events": events}).status_code == 200


def test_distribution_and_on_time_rate(app: Any, api: Any) -> None:
    load(api)
    board = dashboard.build(datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    assert board.distribution.counts == {
        "DHL": [1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 1],
        "DPD": [0, 0, 2, 1, 0, 1, 0, 0, 0, 0, 1],
    }
    assert board.distribution.all_carriers() == [1, 2, 3, 1, 0, 1, 0, 0, 0, 0, 2]
    assert board.distribution.shares()[2] == 0.3
    assert board.delivered == 10 and board.with_promise == 10 and board.on_time == 7
    assert board.on_time_rate == 0.7
    assert board.orders == 11 and board.shipped == 11 and board.in_transit == 1


def test_the_page_shows_the_figures_and_an_accessible_chart(agent_client: FlaskClient, api: Any) -> None:
    load(api)
    response = agent_client.get("/backoffice/dashboard?from=2026-09-01&until=2026-09-30")
    assert response.status_code == 200
    html = page(response)
    assert html.select_one("#figure-delivered").text.strip() == "10"
    assert html.select_one("#figure-on-time").text.split() == ["70%", "(7/10)"]
    svg = html.select_one("#transit-chart svg")
    assert svg["role"] == "img" and svg.select_one("title") and svg.select_one("desc")
    rows = html.select("#transit-chart table tbody tr")
    assert [row.th.text for row in rows][-1] == "10+"
    # columns: all carriers, DHL, DPD
    assert [cell.text for cell in rows[2].select("td")] == ["30%", "20%", "40%"]
    assert len(svg.select("rect.chart__bar")) == 11 * 3


def test_a_period_without_deliveries_and_a_bad_period(agent_client: FlaskClient) -> None:
    response = agent_client.get("/backoffice/dashboard?from=2020-01-01&until=2020-01-31")
    assert response.status_code == 200 and "No parcel was delivered" in response.get_data(as_text=True)
    assert agent_client.get("/backoffice/dashboard?from=2020-02-01&until=2020-01-01").status_code == 422
    assert agent_client.get("/backoffice/dashboard?from=soon").status_code == 422


def test_the_dashboard_runs_a_fixed_number_of_statements(
    agent_client: FlaskClient, api: Any, app: Any
) -> None:
    from sqlalchemy import event

    from portal.extensions import db

    def statements() -> int:
        seen: list[str] = []

        def count(*args: Any) -> None:
            seen.append(args[2])

        event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert (
                agent_client.get("/backoffice/dashboard?from=2026-09-01&until=2026-09-30").status_code == 200
            )
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    empty = statements()
    load(api)
    assert statements() == empty


def test_a_process_reuses_a_period_s_figures_for_the_cache_time(app: Any, api: Any) -> None:
    start, end = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)
    app.config["DASHBOARD_CACHE_SECONDS"] = 60
    try:
        with app.test_request_context():
            first = dashboard.cached_build(start, end)
        load(api)  # new orders after the figures were read
        with app.test_request_context():
            assert dashboard.cached_build(start, end) is first  # within the cache time: the same figures
            assert dashboard.cached_build(start, end - timedelta(days=1)).orders == 11  # another period
        app.extensions["dashboard_cache"].clear()  # as if the cache time had passed
        with app.test_request_context():
            assert dashboard.cached_build(start, end).orders == 11
    finally:
        app.config["DASHBOARD_CACHE_SECONDS"] = 0
        app.extensions.pop("dashboard_cache", None)


def test_a_cached_period_is_drawn_once_per_language(agent_client: FlaskClient, api: Any, app: Any) -> None:
    from flask import template_rendered

    load(api)
    drawn: list[str] = []

    def record(sender: Any, template: Any, context: Any, **extra: Any) -> None:
        if template.name == "backoffice/_dashboard_figures.html":
            drawn.append(str(context["board"].start))

    url = "/backoffice/dashboard?from=2026-09-01&until=2026-09-30"
    app.config["DASHBOARD_CACHE_SECONDS"] = 60
    template_rendered.connect(record, app)
    try:
        first = agent_client.get(url).get_data(as_text=True)
        again = agent_client.get(url, headers={"HX-Request": "true"}).get_data(as_text=True)
        assert len(drawn) == 1 and 'id="transit-chart"' in first
        assert first.count("<svg") == again.count("<svg") > 1
        assert page(agent_client.get(url)).select_one("#figure-delivered").text == "10"
        german = agent_client.get(url + "&lang=de").get_data(as_text=True)  # its own figures, in German
        assert len(drawn) == 2 and "Zugestellt" in german
        agent_client.get(url.replace("2026-09-30", "2026-09-29"))  # another period
        assert len(drawn) == 3
    finally:
        template_rendered.disconnect(record, app)
        app.config["DASHBOARD_CACHE_SECONDS"] = 0
        app.extensions.pop("dashboard_cache", None)
