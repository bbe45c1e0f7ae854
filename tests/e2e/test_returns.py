"""A guest on a phone returns an item; the return page's small status element polls (htmx) until the label is
made, then offers the download — without reloading the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from portal.extensions import db
from portal.returns.models import Return
from portal.returns.tasks import render_return_label
from tests.e2e.conftest import assert_no_console_errors, check_accessibility
from tests.factories import event_body, order_body, shipment_body


@pytest.fixture
def delivered(api: Any) -> None:
    """Order DS-7001, delivered two days ago (the house clock is not frozen in browser tests)."""
    assert api.put("/orders/DS-7001", json=order_body()).status_code == 201
    shipment = shipment_body(items=[{"sku": "TEE-BLK-M", "quantity": 2}, {"sku": "CAP-01", "quantity": 1}])
    assert api.put("/orders/DS-7001/shipments/JJD7001", json=shipment).status_code == 201
    when = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    event = event_body("r1", "delivered", when, tracking_number="JJD7001")
    assert api.post("/tracking-events", json=event).status_code == 200


def look_up(page: Any) -> None:
    page.goto("/track")
    page.get_by_label("Order number").fill("DS-7001")
    page.get_by_label("Email address").fill("ada.lovelace@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/orders/DS-7001")


def request_a_return(page: Any) -> None:
    look_up(page)
    expect(page.locator("#returns")).to_contain_text("Returnable until")
    page.get_by_role("link", name="Return items").click()
    page.wait_for_url("**/orders/DS-7001/returns/new")
    page.get_by_label("Quantity to return (up to 2)").fill("1")
    page.get_by_label("Reason").select_option("too_small")
    page.get_by_role("button", name="Request the return").click()
    page.wait_for_url("**/returns/R-*")


def test_the_label_status_polls_until_the_label_is_ready(page: Any, delivered: None) -> None:
    request_a_return(page)
    status = page.locator("#label-status")
    expect(status).to_contain_text("Your label is being prepared")
    expect(status.locator("progress")).to_have_attribute("value", "1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.evaluate("window.__sameDocument = true")

    db.session.expire_all()
    item = db.session.scalar(select(Return).where(Return.rma == page.url.rsplit("/", 1)[-1]))
    assert item is not None and item.status == "approved"
    assert render_return_label(item.id) == "stored"

    download = page.get_by_role("link", name="Download label (PDF)")
    expect(download).to_be_visible(timeout=10_000)
    expect(page.get_by_role("link", name="Print (opens in a new tab)")).to_be_visible()
    # The element replaced itself: same document, and it no longer polls.
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#label-status[hx-trigger]").count() == 0
    with page.expect_download() as info:
        download.click()
    assert info.value.suggested_filename == f"return-label-{item.rma}.pdf"
    assert_no_console_errors(page)


def test_without_javascript_a_reload_shows_the_link(browser: Any, live_server: str, delivered: None) -> None:
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport={"width": 375, "height": 800}
    )
    try:
        page = context.new_page()
        request_a_return(page)
        expect(page.locator("#label-status")).to_contain_text("Reload this page in a moment")
        db.session.expire_all()
        item = db.session.scalar(select(Return))
        assert item is not None
        assert render_return_label(item.id) == "stored"
        page.reload()
        expect(page.get_by_role("link", name="Download label (PDF)")).to_be_visible()
    finally:
        context.close()


def test_the_return_pages_are_accessible(axe_page: Any, delivered: None) -> None:
    look_up(axe_page)
    axe_page.goto("/orders/DS-7001/returns/new")
    check_accessibility(axe_page)
    axe_page.get_by_label("Quantity to return (up to 2)").fill("5")
    axe_page.get_by_role("button", name="Request the return").click()
    expect(axe_page.locator(".field-error").first).to_be_visible()
    check_accessibility(axe_page)
    axe_page.get_by_label("Quantity to return (up to 2)").fill("1")
    axe_page.get_by_label("Reason").select_option("too_small")
    axe_page.get_by_role("button", name="Request the return").click()
    axe_page.wait_for_url("**/returns/R-*")
    check_accessibility(axe_page)
