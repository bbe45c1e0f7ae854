"""Four languages: chosen by ?lang=, the switch or the browser; dates and money in the viewer's locale and
zone; the accessibility statement linked from every page."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from flask import Flask, session
from flask.testing import FlaskClient

from portal.i18n import date_filter, money, when_filter
from tests.conftest import csrf_token

START_HEADINGS = {
    "en": "Where is my order?",
    "de": "Wo ist meine Bestellung?",
    "fr": "Où est ma commande\u00a0?",
    "es": "¿Dónde está mi pedido?",
}


def page(html: bytes | str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


@pytest.mark.parametrize("locale", sorted(START_HEADINGS))
def test_each_language_is_chosen_by_the_browser(client: FlaskClient, app: Flask, locale: str) -> None:
    with app.app_context():
        soup = page(client.get("/", headers={"Accept-Language": f"{locale};q=1,en;q=0.1"}).data)

    assert soup.find("html")["lang"] == locale
    assert soup.find("h1").get_text(strip=True) == START_HEADINGS[locale]
    pressed = soup.find("form", class_="language-switch").find("button", attrs={"aria-pressed": "true"})
    assert pressed["value"] == locale


def test_lang_parameter_shows_one_page_in_that_language_without_remembering_it(
    client: FlaskClient, app: Flask
) -> None:
    with app.app_context():
        soup = page(client.get("/track?lang=es", headers={"Accept-Language": "en"}).data)
    assert soup.find("html")["lang"] == "es"
    # The switch on that page comes back to it without ?lang=, which would override the new choice.
    assert soup.find("input", attrs={"name": "next"})["value"] == "/track"
    with app.app_context():
        assert page(client.get("/track", headers={"Accept-Language": "en"}).data).find("html")["lang"] == "en"


def test_unknown_lang_parameter_is_ignored(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        soup = page(client.get("/?lang=xx&lang=", headers={"Accept-Language": "de"}).data)
    assert soup.find("html")["lang"] == "de"


def test_switch_keeps_the_page_and_its_query(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        html = client.get("/no-such-page?x=1&lang=de&y=2").get_data(as_text=True)
    assert page(html).find("input", attrs={"name": "next"})["value"] == "/no-such-page?x=1&y=2"

    response = client.post(
        "/language", data={"csrf_token": csrf_token(html), "locale": "fr", "next": "/no-such-page?x=1&y=2"}
    )

    assert response.status_code == 303 and response.location == "/no-such-page?x=1&y=2"
    with app.app_context():
        soup = page(client.get(response.location, headers={"Accept-Language": "en"}).data)
    assert soup.find("html")["lang"] == "fr"
    assert soup.find("h1").get_text(strip=True) == "Page introuvable"


@pytest.mark.parametrize(
    ("locale", "zone", "expected"),
    [
        ("en", "America/New_York", ("€1,234.50", "Nov 22, 2026", "Sun, Nov 22, 12:05\u202fPM")),
        ("de", "Europe/Berlin", ("1.234,50\u00a0€", "22.11.2026", "So., 22. Nov., 18:05")),
        ("fr", "Europe/Paris", ("1\u202f234,50\u00a0€", "22 nov. 2026", "dim. 22 nov., 18:05")),
        ("es", "Atlantic/Canary", ("1.234,50\u00a0€", "22 nov 2026", "dom, 22 nov, 17:05")),
    ],
)
def test_money_and_dates_follow_the_viewers_locale_and_time_zone(
    app: Flask, locale: str, zone: str, expected: tuple[str, str, str]
) -> None:
    # A fresh app context: Flask-Babel caches the locale and zone in `g`, which the fixtures' context shares.
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": locale}):
        session["timezone"] = zone
        shown = (
            money(Decimal("1234.5"), "EUR"),
            date_filter(date(2026, 11, 22)),
            when_filter(datetime(2026, 11, 22, 17, 5, tzinfo=UTC)),
        )

    assert shown == expected


def test_accessibility_statement_is_linked_from_every_page(client: FlaskClient) -> None:
    for path in ("/", "/track", "/login", "/no-such-page"):
        soup = page(client.get(path).data)
        link = soup.find("footer").find("a", href="/accessibility")
        assert link is not None and link.get_text(strip=True) == "Accessibility", path

    response = client.get("/accessibility")

    assert response.status_code == 200
    soup = page(response.data)
    assert soup.find("h1").get_text(strip=True) == "Accessibility statement"
    text = soup.find("main").get_text(" ", strip=True)
    assert "WCAG" in text and "2.2" in text and "200%" in text
    assert "November 22, 2026" in text
    assert soup.find("footer").find("a", href="/accessibility")["aria-current"] == "page"


def test_accessibility_statement_in_german(client: FlaskClient) -> None:
    soup = page(client.get("/accessibility?lang=de").data)

    assert soup.find("h1").get_text(strip=True) == "Erklärung zur Barrierefreiheit"
    assert "22. November 2026" in soup.find("main").get_text(" ", strip=True)
