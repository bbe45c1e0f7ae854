"""A guest on a phone changes a parcel's delivery instructions inline (htmx 4), and without JavaScript."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import check_accessibility, console_errors
from tests.factories import event_body, order_body, shipment_body

PANEL = "#parcel-JJD6001-instructions"


@pytest.fixture
def order_on_its_way(api: Any) -> None:
    """An order whose parcel is promised a week from now, so that the cut-off is well ahead."""
    earliest = (datetime.now(UTC) + timedelta(days=7)).replace(hour=10, minute=0, second=0, microsecond=0)
    promised = {"earliest": earliest.isoformat(), "latest": (earliest + timedelta(days=2)).isoformat()}
    assert api.put("/orders/DS-6001", json=order_body()).status_code == 201
    shipment = shipment_body(promised_delivery=promised)
    assert api.put("/orders/DS-6001/shipments/JJD6001", json=shipment).status_code == 201
    event = event_body("i1", "in_transit", datetime.now(UTC).isoformat(), tracking_number="JJD6001")
    assert api.post("/tracking-events", json=event).status_code == 200


def look_up(page: Any) -> None:
    page.goto("/track")
    page.get_by_label("Order number").fill("DS-6001")
    page.get_by_label("Email address").fill("ada.lovelace@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/orders/DS-6001")


def unexpected_errors(page: Any) -> list[str]:
    # Chromium logs every 4xx answer to fetch() as "Failed to load resource"; the 422 is the expected answer
    # to the invalid form, which htmx swaps in.
    return [error for error in console_errors(page) if "status of 422" not in error]


def test_guest_edits_the_instructions_inline_on_a_phone(page: Any, order_on_its_way: None) -> None:
    look_up(page)
    panel = page.locator(PANEL)
    expect(panel).to_contain_text("No instructions yet")
    page.evaluate("window.__sameDocument = true")

    panel.get_by_role("link", name="Add delivery instructions").click()
    form = page.locator(f"{PANEL} form")
    expect(form).to_be_visible()
    # The neighbour's fields appear only once that choice is made (CSS :has, no script).
    name = form.get_by_label("Neighbour's name")
    expect(name).to_be_hidden()
    form.get_by_label("With a neighbour").check()
    expect(name).to_be_visible()

    # Without a name the form comes back (422) with the error next to the field.
    form.get_by_role("button", name="Save instructions").click()
    expect(page.locator(PANEL)).to_contain_text("Enter the name of the neighbour who may take the parcel.")
    form = page.locator(f"{PANEL} form")
    expect(form.get_by_label("Neighbour's name")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("Neighbour's name").fill("Mrs Hudson")
    form.get_by_label("Their house number").fill("221a")
    form.get_by_label("Access or gate code").fill("4711")
    form.get_by_label("Note for the driver").fill("<b>Ring twice</b>")
    options = form.get_by_label("Preferred delivery day").locator("option")
    second_day = options.nth(2).get_attribute("value")
    form.get_by_label("Preferred delivery day").select_option(second_day)
    form.get_by_role("button", name="Save instructions").click()

    expect(panel.locator("[role=status]")).to_contain_text("Saved. We have passed your instructions on.")
    expect(panel).to_contain_text("With a neighbour: Mrs Hudson, house number 221a")
    expect(panel).to_contain_text("<b>Ring twice</b>")  # shown as text, not markup
    expect(panel).to_contain_text("Saved (hidden)")
    expect(panel).to_contain_text("History (1 change)")
    expect(panel.get_by_role("link", name="Change delivery instructions")).to_be_focused()

    # Open and cancel: the panel comes back unchanged.
    panel.get_by_role("link", name="Change delivery instructions").click()
    expect(page.locator(f"{PANEL} form")).to_be_visible()
    page.locator(PANEL).get_by_role("link", name="Cancel").click()
    expect(page.locator(f"{PANEL} form")).to_have_count(0)
    expect(panel).to_contain_text("Mrs Hudson")

    assert page.evaluate("window.__sameDocument") is True  # no page load happened
    assert page.url.endswith("/orders/DS-6001")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert not unexpected_errors(page), unexpected_errors(page)


def test_the_inline_form_is_accessible(axe_page: Any, order_on_its_way: None) -> None:
    look_up(axe_page)
    axe_page.locator(PANEL).get_by_role("link", name="Add delivery instructions").click()
    expect(axe_page.locator(f"{PANEL} form")).to_be_visible()
    axe_page.locator(PANEL).get_by_label("With a neighbour").check()
    check_accessibility(axe_page)


@pytest.fixture
def page_without_javascript(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server,
        java_script_enabled=False,
        viewport={"width": 375, "height": 800},
        locale="en-GB",
    )
    context.set_default_timeout(5_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_javascript_the_form_is_a_page(page_without_javascript: Any, order_on_its_way: None) -> None:
    page = page_without_javascript
    look_up(page)
    page.locator(PANEL).get_by_role("link", name="Add delivery instructions").click()
    page.wait_for_url("**/orders/DS-6001/shipments/JJD6001/instructions")
    page.get_by_label("In the porch").check()
    page.get_by_label("Note for the driver").fill("Behind the plant pot")
    page.get_by_role("button", name="Save instructions").click()
    page.wait_for_url("**/orders/DS-6001#parcel-JJD6001")
    expect(page.locator("#flashes")).to_contain_text("Saved. We have passed your instructions on.")
    expect(page.locator(PANEL)).to_contain_text("In the porch")
    expect(page.locator(PANEL)).to_contain_text("Behind the plant pot")
