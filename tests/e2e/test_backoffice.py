"""An agent finds orders with the live search (htmx, debounced) in Chromium, and without JavaScript; an agent
finds a return waiting in the review queue, searches it by its RMA and approves it on the order page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect
from sqlalchemy import select

from portal.accounts import service as accounts_service
from portal.accounts.service import create_user
from portal.audit import Actor, AuditEntry
from portal.extensions import db
from portal.orders.models import Order, OrderItem
from portal.returns.models import Return
from portal.returns.service import LineRequest, ReturnRequest, request_return
from tests.e2e.conftest import assert_no_console_errors, check_accessibility
from tests.factories import event_body, order_body, shipment_body

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


@pytest.fixture
def waiting_return(api: Any, orders: None) -> str:
    """Order DS-7001 delivered yesterday, with a return of a damaged T-shirt (a reason staff must inspect)
    waiting for review; returns its RMA."""
    delivered = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    event = event_body("e2e-7001", "delivered", delivered, tracking_number="JJD7001")
    assert api.post("/tracking-events", json=event).status_code == 200
    order = db.session.scalar(select(Order).where(Order.number == "DS-7001"))
    assert order is not None
    shirt = db.session.scalar(
        select(OrderItem.id).where(OrderItem.order_id == order.id, OrderItem.sku == "TEE-BLK-M")
    )
    assert shirt is not None
    data = ReturnRequest(
        lines=[LineRequest(shirt, 1, "damaged", "Torn seam")],
        resolution="refund",
        method="label",
        idempotency_key="e2e-review-1",
    )
    item, _ = request_return(order, data, Actor.system("test"))
    db.session.commit()
    assert item.status == "requested"
    return item.rma


def test_an_agent_finds_a_waiting_return_and_approves_it(page: Any, waiting_return: str) -> None:
    rma = waiting_return
    sign_in(page)
    page.get_by_role("link", name="Returns to review").click()
    page.wait_for_url("**/backoffice/queues/returns")
    queue = page.get_by_role("region", name="Returns to review")
    expect(queue.locator("tbody tr")).to_have_count(1)
    expect(queue.locator("tbody tr")).to_contain_text(rma)
    expect(queue.locator("tbody tr")).to_contain_text("A reason that needs inspection")

    # The live search finds the order by the RMA, lower case and part of it as an agent types it.
    page.get_by_role("link", name="Search").click()
    page.wait_for_url("**/backoffice/")
    page.get_by_label("Order number, e-mail, name or tracking number").press_sequentially(
        rma.lower()[:6], delay=40
    )
    expect(page.locator("#search-results tbody td:first-child a")).to_have_text(["DS-7001"])
    page.get_by_role("link", name="DS-7001").click()
    page.wait_for_url("**/backoffice/orders/DS-7001")

    panel = page.locator(f"#return-{rma}")
    expect(panel).to_contain_text("Waiting for approval · Refund to the original payment method")
    expect(panel).to_contain_text("needs review")
    expect(panel).to_contain_text("Torn seam")
    panel.get_by_label("Note (required to reject: the customer sees it)").fill("Photo shows the seam.")
    panel.get_by_role("button", name="Approve").click()
    page.wait_for_url("**/backoffice/orders/DS-7001")
    expect(page.locator("#flashes")).to_have_text(f"Return {rma} is approved; its label is being made.")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(panel.get_by_role("button", name="Mark as received")).to_be_visible()
    expect(panel).to_contain_text(f"{rma} · Approved · Refund to the original payment method")

    db.session.expire_all()
    item = db.session.scalar(select(Return).where(Return.rma == rma))
    assert item is not None and item.status == "approved"
    approved = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "return.approved"))
    assert approved is not None and approved.object_id == rma

    page.get_by_role("link", name="Returns to review").click()
    expect(page.locator("main")).to_contain_text("No return is waiting for review.")
    assert_no_console_errors(page)
