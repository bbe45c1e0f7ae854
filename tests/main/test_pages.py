"""The layout, the start page, error pages, the language switch, the health check and the translations."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from flask import Flask, render_template_string
from flask.testing import FlaskClient

from portal.accounts.models import User
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parent.parent.parent
CATALOGS = sorted((ROOT / "translations").glob("*/LC_MESSAGES/messages.po"))


def page(html: bytes | str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def test_start_page_offers_the_guest_lookup_form(client: FlaskClient) -> None:
    response = client.get("/")

    assert response.status_code == 200
    soup = page(response.data)
    form = soup.find("form", action="/track")
    assert form is not None and form["method"] == "post"
    order_number = form.find("input", attrs={"name": "order_number"})
    email = form.find("input", attrs={"name": "email"})
    assert order_number is not None and order_number["autocomplete"] == "off"
    assert email is not None and email["type"] == "email" and email["autocomplete"] == "email"
    assert form.find("input", attrs={"name": "csrf_token", "type": "hidden"})["value"]
    for control in (order_number, email):
        assert soup.find("label", attrs={"for": control["id"]}), f"{control['name']} has no label"
    assert soup.find("a", href="/login").get_text(strip=True) == "Sign in"


def test_layout_has_landmarks_and_a_skip_link(client: FlaskClient) -> None:
    soup = page(client.get("/").data)

    for landmark in ("header", "nav", "main", "footer"):
        assert soup.find(landmark) is not None, f"no <{landmark}>"
    skip = soup.find("a", class_="skip-link")
    assert skip is not None and skip["href"] == "#main"
    assert soup.find("main")["id"] == "main"
    assert soup.find("html")["lang"] == "en"
    assert soup.find("meta", attrs={"name": "color-scheme"})["content"] == "light dark"
    assert soup.find(attrs={"role": "status", "aria-live": "polite"}) is not None
    assert soup.find("script", src="/static/vendor/htmx.min.js").has_attr("defer")
    assert len(soup.find_all("h1")) == 1


def test_htmx_requests_carry_the_csrf_token(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)

    body = page(html).find("body")
    # htmx 4 inherits nothing implicitly, so the header must be declared as inherited to reach every request.
    assert '"X-CSRFToken"' in body["hx-headers:inherited"]
    assert csrf_token(html)


def test_start_page_has_no_inline_scripts_or_styles(client: FlaskClient) -> None:
    soup = page(client.get("/").data)

    assert [script for script in soup.find_all("script") if not script.get("src")] == []
    assert soup.find_all("style") == []
    assert soup.find_all(style=True) == []
    assert [tag.name for tag in soup.find_all() if any(name.startswith("on") for name in tag.attrs)] == []


def test_unknown_page_is_a_404_in_the_layout(client: FlaskClient) -> None:
    response = client.get("/no-such-page")

    assert response.status_code == 404
    soup = page(response.data)
    assert soup.find("main") is not None and soup.find("header") is not None
    assert "not found" in soup.find("h1").get_text().lower()
    assert soup.find("main").find("a", href="/") is not None


def test_german_browser_gets_german_pages(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})

    soup = page(response.data)
    assert soup.find("html")["lang"] == "de"
    assert soup.find("h1").get_text(strip=True) == "Wo ist meine Bestellung?"
    assert soup.find("label", attrs={"for": "order_number"}).get_text(strip=True) == "Bestellnummer"


def test_german_error_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept-Language": "de"})

    assert response.status_code == 404
    assert page(response.data).find("h1").get_text(strip=True) == "Seite nicht gefunden"


def test_language_switch_sets_the_language_and_goes_back(client: FlaskClient, app: Flask) -> None:
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post("/language", data={"csrf_token": token, "locale": "de", "next": "/?from=switch"})

    assert response.status_code == 303
    assert response.location == "/?from=switch"
    # A fresh app context: the fixtures keep one open, and requests in it share `g` (and its cached locale).
    with app.app_context():
        soup = page(client.get(response.location, headers={"Accept-Language": "en"}).data)
    assert soup.find("html")["lang"] == "de"
    assert soup.find("button", attrs={"value": "de"})["aria-pressed"] == "true"


def test_language_switch_comes_back_to_the_page_it_was_used_on(client: FlaskClient) -> None:
    soup = page(client.get("/no-such-page?x=1").data)

    switch = soup.find("form", class_="language-switch")
    assert switch["action"] == "/language" and switch["method"] == "post"
    assert switch.find("input", attrs={"name": "next"})["value"] == "/no-such-page?x=1"
    assert switch.find("input", attrs={"name": "csrf_token"})["value"]
    assert {button["value"] for button in switch.find_all("button")} == {"en", "de", "fr", "es"}


def test_language_switch_changes_a_signed_in_users_stored_language(client: FlaskClient, app: Flask) -> None:
    user = create_user("shopper@example.com", "a long enough password", name="Sam")
    user.locale = "en"
    db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = user.auth_id
    with app.app_context():
        token = csrf_token(client.get("/").get_data(as_text=True))

    with app.app_context():
        response = client.post("/language", data={"csrf_token": token, "locale": "de", "next": "/"})
    assert response.status_code == 303

    db.session.expire_all()
    assert db.session.get(User, user.id).locale == "de"
    with client.session_transaction() as session:
        session.pop("locale")  # the stored language alone must now say German
    with app.app_context():
        soup = page(client.get("/", headers={"Accept-Language": "en"}).data)
    assert soup.find("html")["lang"] == "de"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        "/\t/evil.example",
        "evil",
        "",
        "/\n/evil.example",
    ],
)
def test_language_switch_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post("/language", data={"csrf_token": token, "locale": "de", "next": target})

    assert response.status_code == 303
    assert response.location == "/"


def test_unknown_language_is_ignored(client: FlaskClient, app: Flask) -> None:
    token = csrf_token(client.get("/").get_data(as_text=True))

    response = client.post("/language", data={"csrf_token": token, "locale": "xx", "next": "/"})

    assert response.status_code == 303
    with app.app_context():
        assert page(client.get("/").data).find("html")["lang"] == "en"


def test_post_without_csrf_token_gets_a_friendly_400(client: FlaskClient) -> None:
    response = client.post("/language", data={"locale": "de", "next": "/"})

    assert response.status_code == 400
    soup = page(response.data)
    assert soup.find("main") is not None
    assert "expired" in soup.find("main").get_text()


def test_health_check_reports_database_and_redis(client: FlaskClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.is_json
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_status_macros_render_every_tracking_status(app: Flask) -> None:
    from portal.orders.models import TRACKING_STATUSES

    statuses = list(TRACKING_STATUSES)
    events = [
        SimpleNamespace(
            status=status,
            occurred_at=datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            description=None,
            city="Leeds",
            country="GB",
        )
        for status in statuses
    ]
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        html = render_template_string(
            '{% import "macros/status.html" as status %}'
            "{% for code in codes %}{{ status.chip(code) }}{{ status.stepper(code) }}{% endfor %}"
            "{{ status.timeline(events) }}",
            codes=statuses,
            events=events,
        )
    soup = page(html)
    chips = soup.find_all("span", class_="chip")
    assert [chip["class"][1] for chip in chips] == [f"chip--{code}" for code in statuses]
    assert all(chip.get_text(strip=True) and "_" not in chip.get_text() for chip in chips)
    assert all(
        len(stepper.find_all(attrs={"aria-current": "step"})) == 1
        for stepper in soup.find_all("ol", "stepper")
    )
    assert len(soup.find("ol", class_="timeline").find_all("li")) == len(statuses)
    assert soup.find("time")["datetime"] == "2025-03-01T09:30:00+00:00"


def test_money_and_dates_follow_the_locale(app: Flask) -> None:
    moment = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    template = '{{ amount | money("EUR") }}|{{ moment | date("long") }}'
    # Each in its own app context: Flask-Babel caches the locale in `g`, which lives as long as that context.
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "de"}):
        german = render_template_string(template, amount="1234.50", moment=moment)
    with app.app_context(), app.test_request_context("/", headers={"Accept-Language": "en"}):
        english = render_template_string(template, amount="1234.50", moment=moment)

    assert german == "1.234,50\xa0€|1. März 2025"
    assert english == "€1,234.50|March 1, 2025"


@pytest.mark.parametrize("catalog_path", CATALOGS, ids=lambda path: path.parent.parent.name)
def test_catalogs_are_complete(catalog_path: Path) -> None:
    with catalog_path.open("rb") as handle:
        catalog = read_po(handle)
    messages = [message for message in catalog if message.id]

    assert messages, "empty catalog"
    assert not catalog.fuzzy
    assert [message.id for message in messages if message.fuzzy] == []
    if catalog.locale and catalog.locale.language != "en":  # en is the source language
        assert [message.id for message in messages if not message.string] == []


def test_german_catalog_exists() -> None:
    assert "de" in {path.parent.parent.name for path in CATALOGS}
