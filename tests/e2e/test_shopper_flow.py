"""A shopper on a phone registers, confirms the address with the link from the e-mail (read back from the real
SMTP server the session runs), finds the orders placed earlier as a guest with that address in the account,
and sees the points the first delivery after that brings on the order page and the loyalty page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from playwright.sync_api import expect

from portal.accounts import service as accounts_service
from tests.accounts.conftest import link_in, mails_to, text_of
from tests.e2e.conftest import assert_no_console_errors
from tests.factories import event_body, order_body, shipment_body

PASSWORD = "correct horse battery staple"
ITEMS = [
    {"sku": "TEE-BLK-M", "name": "T-shirt", "variant": "Black / M", "quantity": 2, "unit_price": "19.95"},
    {"sku": "CAP-01", "name": "Cap", "quantity": 1, "unit_price": "50.00"},
]


def ago(**delta: float) -> str:
    return (datetime.now(UTC) - timedelta(**delta)).isoformat()


@pytest.fixture
def guest_orders(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two orders placed as a guest with Ada's address (one on its way, one delivered weeks ago), and a
    stranger's order. The live server runs in this process: cheap password hashing applies to it too."""
    monkeypatch.setattr(
        accounts_service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    orders = [
        ("DS-5001", "ada@example.com", ago(days=2)),
        ("DS-5002", "Ada@Example.com", ago(days=40)),
        ("DS-5003", "grace@example.com", ago(days=1)),
    ]
    for number, email, placed_at in orders:
        body = order_body(email=email, placed_at=placed_at, locale="en", items=ITEMS, total="89.90")
        assert api.put(f"/orders/{number}", json=body).status_code == 201
        shipment = shipment_body(
            shipped_at=placed_at,
            items=[{"sku": "TEE-BLK-M", "quantity": 2}, {"sku": "CAP-01", "quantity": 1}],
            promised_delivery={"earliest": ago(days=-1), "latest": ago(days=-3)},
        )
        assert api.put(f"/orders/{number}/shipments/JJD{number[-4:]}", json=shipment).status_code == 201
    delivered = event_body("e2e-5002", "delivered", ago(days=35), tracking_number="JJD5002")
    assert api.post("/tracking-events", json=delivered).status_code == 200


def test_register_verify_see_claimed_orders_and_points(
    page: Any, api: Any, guest_orders: None, mailbox: Any, run_worker: Any
) -> None:
    page.goto("/register")
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat the password").fill(PASSWORD)
    page.get_by_role("button", name="Create my account").click()
    page.wait_for_url("**/register/check-your-inbox")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    # A real worker process sends the e-mail through the session's SMTP server.
    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    [message] = [
        found
        for found in mails_to(mailbox.messages, "ada@example.com")
        if "Confirm your email address" in str(found["Subject"])
    ]
    assert "Ada Lovelace" in text_of(message)
    link = link_in(message, "/verify/")  # the link points at PORTAL_BASE_URL: open its path here

    page.goto(link)
    expect(page.locator("main")).to_contain_text("to confirm ada@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm my email address").click()
    page.wait_for_url("**/orders")
    expect(page.locator("#flashes")).to_have_text(
        "Your email address is confirmed. 2 earlier orders were added to your account."
    )
    # Both guest orders with the address (whatever its case), newest first; never the stranger's.
    orders = page.locator(".order-summary h2")
    expect(orders).to_have_text(["Order DS-5001", "Order DS-5002"])
    expect(page.locator(".order-summary").first).to_contain_text("3 items")

    # The parcel of the claimed order arrives: now it earns points for the account.
    event = event_body("e2e-5001", "delivered", ago(minutes=5), tracking_number="JJD5001")
    assert api.post("/tracking-events", json=event).status_code == 200
    page.get_by_role("link", name="Order DS-5001").click()
    page.wait_for_url("**/orders/DS-5001")
    points = page.locator(".loyalty-order")
    # 2 x 19.95 → 39 points and 50.00 → 50 (Bronze: 1 point per euro, per line, rounded down), and the
    # 100-point bonus for the first delivered order
    expect(points).to_contain_text("This order earned 189 points.")
    expect(points).to_contain_text("when the return window closes")

    points.get_by_role("link", name="Your points").click()
    page.wait_for_url("**/loyalty")
    figures = page.locator(".loyalty-figures dd")
    expect(figures).to_have_text(["0", "189"])  # available, pending
    history = page.locator(".loyalty-history__row")
    expect(history).to_have_count(3)
    expect(history.nth(0)).to_contain_text("+100")
    expect(history.nth(0)).to_contain_text("Bonus for your first order DS-5001")
    expect(history.filter(has_text="2 × T-shirt, order DS-5001")).to_contain_text("+39")
    expect(history.filter(has_text="1 × Cap, order DS-5001")).to_contain_text("+50")
    expect(page.get_by_role("heading", name="Your tier: Bronze")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert_no_console_errors(page)
