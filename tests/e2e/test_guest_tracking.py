"""A guest on a phone looks an order up, reads the timeline, and sees the parcel card update by itself."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_console_errors, check_accessibility
from tests.factories import event_body, order_body, shipment_body


@pytest.fixture
def fast_refresh(app: Flask) -> Iterator[None]:
    previous = app.config["ORDER_REFRESH_SECONDS"]
    app.config["ORDER_REFRESH_SECONDS"] = 1
    yield
    app.config["ORDER_REFRESH_SECONDS"] = previous


@pytest.fixture
def order_in_transit(api: Any) -> None:
    assert api.put("/orders/DS-5001", json=order_body()).status_code == 201
    assert api.put("/orders/DS-5001/shipments/JJD5001", json=shipment_body()).status_code == 201
    events = [
        event_body("g1", "info_received", "2026-10-11T08:00:00+02:00", tracking_number="JJD5001"),
        event_body(
            "g2",
            "in_transit",
            "2026-10-11T18:30:00+02:00",
            tracking_number="JJD5001",
            location={"city": "Leipzig", "country": "DE"},
            description="Sorted at the hub",
        ),
    ]
    assert api.post("/tracking-events", json={"events": events}).status_code == 200


def look_up(page: Any) -> None:
    page.goto("/track")
    page.get_by_label("Order number").fill(" #ds-5001 ")
    page.get_by_label("Email address").fill("ADA.LOVELACE@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/orders/DS-5001")


def test_guest_looks_up_the_order_and_the_card_refreshes(
    page: Any, api: Any, order_in_transit: None, fast_refresh: None
) -> None:
    look_up(page)
    card = page.locator("#parcel-JJD5001")
    assert "On its way" in card.locator(".parcel__status").inner_text()
    timeline = card.locator(".timeline__item")
    assert timeline.count() == 2
    assert "Leipzig" in timeline.first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    # The carrier reports a new scan through the API; the card picks it up without a reload.
    response = api.post(
        "/tracking-events",
        json=event_body(
            "g3",
            "out_for_delivery",
            "2026-10-12T07:15:00+02:00",
            tracking_number="JJD5001",
            location={"city": "Berlin", "country": "DE"},
        ),
    )
    assert response.status_code == 200
    expect(card.locator(".parcel__status")).to_contain_text("Out for delivery", timeout=10_000)
    assert card.locator(".timeline__item").count() == 3
    assert "Berlin" in card.locator(".timeline__item").first.inner_text()
    assert page.url.endswith("/orders/DS-5001")  # no navigation happened
    assert_no_console_errors(page)


def test_a_wrong_email_shows_the_generic_message(page: Any, order_in_transit: None) -> None:
    page.goto("/track")
    page.get_by_label("Order number").fill("DS-5001")
    page.get_by_label("Email address").fill("someone.else@example.com")
    page.get_by_role("button", name="Find my order").click()
    assert "could not find an order" in page.content()
    assert page.url.endswith("/track")


@pytest.mark.parametrize("viewport_width", [375, 1280])
def test_the_order_page_is_accessible(axe_page: Any, order_in_transit: None) -> None:
    look_up(axe_page)
    check_accessibility(axe_page)


def test_the_card_stops_refreshing_once_delivered(
    page: Any, api: Any, order_in_transit: None, fast_refresh: None
) -> None:
    look_up(page)
    card = page.locator("#parcel-JJD5001")
    api.post(
        "/tracking-events",
        json=event_body("g9", "delivered", "2026-10-12T11:00:00+02:00", tracking_number="JJD5001"),
    )
    expect(card.locator(".parcel__status")).to_contain_text("Delivered", timeout=10_000)
    expect(card).not_to_have_attribute("data-refresh-url", re.compile(".*"), timeout=5_000)
    assert_no_console_errors(page)
