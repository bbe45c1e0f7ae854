"""An agent finds orders with the live search (htmx, debounced) in Chromium, and without JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from portal.accounts import service as accounts_service
from portal.accounts.service import create_user
from portal.extensions import db
from tests.e2e.conftest import assert_no_console_errors, check_accessibility
from tests.factories import order_body, shipment_body

PASSWORD = "correct horse battery staple"


@pytest.fixture
def orders(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        accounts_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    create_user("agent@example.com", PASSWORD, "agent", "Alex Agent", verified=True)
    db.session.commit()
    for number, name, email in [
        ("DS-7001", "Ada Lovelace", "ada@example.com"),
        ("DS-7002", "Grace Hopper", "grace@example.com"),
        ("DS-8003", "Alan Turing", "alan@example.com"),
    ]:
        body = order_body(customer_name=name, email=email)
        assert api.put(f"/orders/{number}", json=body).status_code == 201
        tracking = "JJD" + number[-4:]
        assert api.put(f"/orders/{number}/shipments/{tracking}", json=shipment_body()).status_code == 201


def sign_in(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill("agent@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/backoffice/")


def result_numbers(page: Any) -> list[str]:
    return page.locator("#search-results tbody td:first-child a").all_inner_texts()


@pytest.mark.parametrize("viewport_width", [375, 1280])
def test_live_search_narrows_the_results_as_the_agent_types(page: Any, orders: None) -> None:
    sign_in(page)
    expect(page.locator("#search-results")).to_contain_text("3 orders found")
    page.evaluate("window.__sameDocument = true")
    search = page.get_by_label("Order number, e-mail, name or tracking number")
    results = page.locator("#search-results tbody td:first-child a")
    search.press_sequentially("gra", delay=40)
    expect(results).to_have_text(["DS-7002"])
    expect(page.locator("#search-results")).to_contain_text("1 order found")
    search.fill("JJD8")
    expect(results).to_have_text(["DS-8003"])
    search.fill("DS-70")
    expect(results).to_have_text(["DS-7002", "DS-7001"])
    expect(page.locator("#search-results")).to_contain_text("2 orders found")
    # the results were swapped in: no page load happened
    assert page.evaluate("window.__sameDocument") is True
    page.get_by_role("link", name="DS-7001").click()
    page.wait_for_url("**/backoffice/orders/DS-7001")
    expect(page.get_by_role("heading", name="Order DS-7001")).to_be_visible()
    assert_no_console_errors(page)


def test_search_without_javascript(browser: Any, live_server: str, orders: None) -> None:
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/login")
        page.get_by_label("Email address").fill("agent@example.com")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/backoffice/")
        page.get_by_label("Order number, e-mail, name or tracking number").fill("alan@")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url("**/backoffice/?q=alan%40*")
        assert result_numbers(page) == ["DS-8003"]
    finally:
        context.close()


def test_back_office_pages_pass_axe(axe_page: Any, orders: None) -> None:
    sign_in(axe_page)
    axe_page.get_by_label("Order number, e-mail, name or tracking number").fill("DS")
    expect(axe_page.locator("#search-results")).to_contain_text("3 orders found")
    check_accessibility(axe_page)
    for path in ("/backoffice/orders/DS-7001", "/backoffice/dashboard", "/backoffice/queues/failed"):
        axe_page.goto(path)
        check_accessibility(axe_page)
