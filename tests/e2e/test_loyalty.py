"""A shopper on a phone reads their points, loads older history in place (htmx 4), gets a reward code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert

from portal.accounts.service import create_user
from portal.extensions import db
from portal.loyalty.models import LedgerEntry
from tests.e2e.conftest import assert_no_console_errors, check_accessibility

EMAIL = "ada.lovelace@example.com"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def shopper_with_history() -> None:
    user = create_user(EMAIL, PASSWORD, name="Ada Lovelace", verified=True)
    now = datetime.now(UTC)
    db.session.execute(
        insert(LedgerEntry),
        [
            {
                "customer_id": user.id,
                "kind": "adjust",
                "points": 20,
                "source_key": f"adjust:e2e-{i}",
                "created_at": now - timedelta(hours=45 - i),
                "available_from": now - timedelta(hours=45 - i),
                "expires_at": now + timedelta(days=300),
                "debt_points": 0,
                "note": f"Goodwill {i}",
            }
            for i in range(45)
        ],
    )
    db.session.commit()


def sign_in(page: Any) -> None:
    page.goto("/login")
    page.get_by_label("Email address").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("main").get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def test_history_loads_more_in_place_and_a_reward_shows_its_code(
    page: Any, shopper_with_history: None
) -> None:
    sign_in(page)
    page.goto("/loyalty")
    expect(page.locator(".loyalty-figures dd").first).to_have_text("900")
    rows = page.locator(".loyalty-history__row")
    expect(rows).to_have_count(20)
    page.evaluate("window.__sameDocument = true")
    page.get_by_role("link", name="Load more").click()
    expect(rows).to_have_count(40)
    page.get_by_role("link", name="Load more").click()
    expect(rows).to_have_count(45)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    expect(rows.last).to_contain_text("Goodwill 0")
    assert page.evaluate("window.__sameDocument") is True
    progress = page.get_by_role("progressbar")
    expect(progress).to_have_accessible_name("€250.00 to Silver")
    page.get_by_label("500 points for €5.00 store credit").check()
    page.get_by_role("button", name="Get my code").click()
    expect(page.locator(".loyalty-code__value")).to_contain_text("PTS-")
    expect(page.locator(".loyalty-figures dd").first).to_have_text("400")
    assert_no_console_errors(page)


def test_the_loyalty_page_is_accessible(axe_page: Any, shopper_with_history: None) -> None:
    sign_in(axe_page)
    axe_page.goto("/loyalty")
    check_accessibility(axe_page)
