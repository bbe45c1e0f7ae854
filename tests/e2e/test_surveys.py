"""A customer on a phone answers the survey from the e-mail's link in one tap (the e-mail read back from the
real SMTP server; htmx 4 swaps the steps in place), the same without JavaScript, and rates the delivery with
the stars on the tracking page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from playwright.sync_api import expect
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.orders.models import Order
from portal.surveys import service
from portal.surveys.models import SurveyResponse
from tests.e2e.conftest import check_accessibility, console_errors
from tests.messaging.conftest import deliver, html_of, send_due


@pytest.fixture
def token(api: Any) -> str:
    """A delivered order (guest, ada@example.com) whose survey invitation has gone out."""
    deliver(api, "DS-7001")
    order = db.session.scalar(select(Order).where(Order.number == "DS-7001"))
    assert order is not None
    _, raw = service.invite(order, clock.now())
    db.session.commit()
    return raw


@pytest.fixture
def email_link(api: Any, mailbox: Any) -> str:
    """A delivered order (guest, ada@example.com) whose survey e-mail went out a week later through the
    session's SMTP server; returns the path of the e-mail's "9" button (its links name PORTAL_BASE_URL)."""
    deliver(api, "DS-7001")
    send_due(clock.now() + timedelta(days=7))
    [email] = [found for found in mailbox.messages if found["Subject"] == "How did we do with order DS-7001?"]
    buttons = {a.get_text(): a["href"] for a in BeautifulSoup(html_of(email), "html.parser").select("td a")}
    assert list(buttons) == [str(score) for score in range(11)]
    link = urlsplit(buttons["9"])
    return f"{link.path}?{link.query}"


def stored() -> list[tuple[int | None, int | None, str | None]]:
    db.session.expire_all()
    return [(r.nps, r.csat, r.comment) for r in db.session.scalars(select(SurveyResponse))]


def test_one_tap_from_the_email_then_a_comment(page: Any, email_link: str) -> None:
    page.goto(email_link)
    expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
    assert stored() == []  # opening the link recorded nothing
    page.evaluate("window.__sameDocument = true")

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.get_by_role("heading", name="Thank you, your answer is saved")).to_be_visible()
    assert stored() == [(9, None, None)]
    comment = page.get_by_label("What did you like most?")
    expect(comment).to_be_visible()
    comment.fill("Quick and careful.")
    page.get_by_role("button", name="Send comment").click()
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    expect(page.locator("#survey")).to_contain_text("Quick and careful.")
    expect(page.locator("#survey")).to_contain_text("With an account you would have earned")
    assert page.evaluate("window.__sameDocument") is True  # every step swapped in place
    assert stored() == [(9, None, "Quick and careful.")]
    assert console_errors(page) == []

    # Coming back shows the answer; only the comment can change.
    page.goto(email_link.partition("?")[0])
    expect(page.locator("#survey")).to_contain_text("9 out of 10")
    expect(page.get_by_role("radio")).to_have_count(0)


def test_the_survey_steps_are_accessible(axe_page: Any, token: str) -> None:
    axe_page.goto(f"/surveys/{token}?score=3")
    check_accessibility(axe_page)
    axe_page.get_by_role("button", name="Send", exact=True).click()
    expect(
        axe_page.get_by_label("We are sorry we let you down. What should we have done better?")
    ).to_be_visible()
    check_accessibility(axe_page)


@pytest.fixture
def page_without_javascript(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server, java_script_enabled=False, viewport={"width": 375, "height": 800}
    )
    context.set_default_timeout(5_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_without_javascript_every_step_is_a_page(page_without_javascript: Any, token: str) -> None:
    page = page_without_javascript
    page.goto(f"/surveys/{token}?score=4")
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_url(f"**/surveys/{token}")
    expect(page.locator("#flashes")).to_contain_text("Thank you, your answer is saved.")
    page.get_by_role("button", name="Send comment").click()
    page.wait_for_url(f"**/surveys/{token}/thanks")
    expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    assert stored() == [(4, None, None)]


def test_the_delivery_stars_on_the_tracking_page(axe_page: Any, token: str) -> None:
    page = axe_page
    page.goto("/track")
    page.get_by_label("Order number").fill("DS-7001")
    page.get_by_label("Email address").fill("ada@example.com")
    page.get_by_role("button", name="Find my order").click()
    page.wait_for_url("**/orders/DS-7001")
    card = page.locator("#delivery-rating")
    expect(card).to_contain_text("How was your delivery?")
    check_accessibility(page)
    card.locator('label[for="delivery-rating-stars-4"]').click()  # the star: the radio is visually hidden
    expect(card.get_by_role("radio", name="4 stars")).to_be_checked()
    card.get_by_role("button", name="Send rating").click()
    expect(card).to_contain_text("You rated your delivery 4 stars out of 5")
    assert stored() == [(None, 4, None)]


def test_the_staff_report_is_accessible(axe_page: Any, token: str) -> None:
    from portal.accounts.service import create_user

    create_user("agent@example.com", "correct-horse-battery-staple", role="agent", name="Jan", verified=True)
    db.session.commit()
    page = axe_page
    page.goto("/login")
    page.get_by_label("Email address").fill("agent@example.com")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    page.goto("/backoffice/surveys")
    expect(page.get_by_role("heading", name="Survey results")).to_be_visible()
    expect(page.get_by_role("img", name="Weekly NPS")).to_be_visible()
    check_accessibility(page)
