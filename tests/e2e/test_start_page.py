"""The start page in a real browser: clean under CSP, accessible, fits a phone, works by keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Error

from tests.e2e.conftest import assert_no_console_errors, check_accessibility, console_errors

WIDTHS = pytest.mark.parametrize("viewport_width", [375, 1280])


@WIDTHS
def test_start_page_loads_with_htmx_and_no_console_errors(page: Any) -> None:
    response = page.goto("/")

    assert response is not None and response.status == 200
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    assert page.evaluate("typeof htmx") == "object"
    assert_no_console_errors(page)


def test_pages_enforce_the_content_security_policy_and_report_violations(page: Any) -> None:
    # The guard for every other test here: an inline script is refused, and the refusal is a console error.
    page.goto("/")

    with pytest.raises(Error, match="Content Security Policy"):
        page.add_script_tag(content="window.injected = true")

    assert page.evaluate("typeof window.injected") == "undefined"
    assert any("Content Security Policy" in error for error in console_errors(page))


def test_accessibility_check_reports_violations(axe_page: Any) -> None:
    # The guard for the check below: a known violation (an image without a text alternative) makes it fail.
    axe_page.goto("/")
    axe_page.evaluate("document.querySelector('main').append(document.createElement('img'))")

    with pytest.raises(AssertionError, match=r"image-alt \(critical\)"):
        check_accessibility(axe_page)


@WIDTHS
@pytest.mark.parametrize("color_scheme", ["light", "dark"])
@pytest.mark.parametrize("path", ["/", "/no-such-page"])
def test_page_has_no_accessibility_violations(axe_page: Any, path: str) -> None:
    axe_page.goto(path)

    check_accessibility(axe_page)


def test_not_found_page_loads_with_no_console_errors(page: Any) -> None:
    response = page.goto("/no-such-page")

    assert response is not None and response.status == 404
    assert page.get_by_role("heading", level=1).is_visible()
    assert_no_console_errors(page)


@pytest.mark.parametrize("viewport_width", [320])
@pytest.mark.parametrize("path", ["/", "/no-such-page"])
def test_page_does_not_scroll_sideways_at_320_px(page: Any, path: str) -> None:
    page.goto(path)

    assert page.evaluate("document.documentElement.scrollWidth") <= 320


@WIDTHS
def test_first_tab_focuses_a_visible_skip_link(page: Any, viewport_width: int) -> None:
    page.goto("/")

    page.keyboard.press("Tab")

    skip_link = page.locator(".skip-link")
    assert skip_link.evaluate("link => link === document.activeElement")
    assert skip_link.get_attribute("href") == "#main"
    box = skip_link.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10, f"skip link is not shown: {box}"
    assert box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= viewport_width
    assert skip_link.evaluate("link => getComputedStyle(link).clip") in ("auto", "")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@WIDTHS
@pytest.mark.parametrize(
    ("path", "german_heading"),
    [("/", "Wo ist meine Bestellung?"), ("/no-such-page?from=e2e", "Seite nicht gefunden")],
)
def test_language_switch_changes_to_german_and_stays_on_the_page(
    page: Any, live_server: str, path: str, german_heading: str
) -> None:
    page.goto(path)
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_role("button", name="Deutsch").click()
    page.wait_for_function("document.documentElement.lang === 'de'")

    assert page.url == live_server + path
    assert page.get_by_role("heading", level=1).inner_text() == german_heading
    assert page.get_by_role("button", name="Deutsch").get_attribute("aria-pressed") == "true"
    assert page.get_by_role("button", name="English").get_attribute("aria-pressed") == "false"
    assert_no_console_errors(page)


@WIDTHS
def test_lookup_form_fields_have_labels(page: Any) -> None:
    page.goto("/")

    order_number = page.get_by_label("Order number")
    email = page.get_by_label("Email address")

    assert order_number.get_attribute("name") == "order_number"
    assert email.get_attribute("name") == "email"
    order_number.fill("1001")
    email.fill("ada@example.com")
    assert order_number.input_value() == "1001"
    assert email.input_value() == "ada@example.com"
