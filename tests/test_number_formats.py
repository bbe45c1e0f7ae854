"""Numbers shown to people follow the viewer's locale (Babel): points, multipliers and percentages on the
loyalty page, the return form and the back-office read "1.234 Punkte", "× 1,25", "10 %" in German and
"1 234 points", "× 1,25", "10 %" in French (Babel's narrow no-break space and no-break space)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale

from portal import clock
from portal.audit import Actor
from portal.extensions import db
from portal.i18n import format_number, format_percentage, format_signed_number
from portal.loyalty.spending import adjust_points
from tests.backoffice.conftest import make_user, post
from tests.loyalty.conftest import grant, make_shopper, place, sign_in
from tests.returns.conftest import TODAY, delivered_order

NNBSP = "\u202f"  # French groups thousands with a narrow no-break space
NBSP = "\xa0"  # and puts a no-break space before "%", as German and Spanish do


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", ["1,234", "1.5", "1.25", "+1,234", "-500", "10%", "12.5%", "4.0"]),
        ("de", ["1.234", "1,5", "1,25", "+1.234", "-500", f"10{NBSP}%", f"12,5{NBSP}%", "4,0"]),
        ("fr", [f"1{NNBSP}234", "1,5", "1,25", f"+1{NNBSP}234", "-500", f"10{NBSP}%", f"12,5{NBSP}%", "4,0"]),
        ("es", ["1.234", "1,5", "1,25", "+1.234", "-500", f"10{NBSP}%", f"12,5{NBSP}%", "4,0"]),
    ],
)
def test_the_formatters_follow_the_locale(app: Flask, locale: str, expected: list[str]) -> None:
    with app.test_request_context(), force_locale(locale):
        assert [
            format_number(1234),
            format_number(Decimal("1.50")),
            format_number(Decimal("1.25")),
            format_signed_number(1234),
            format_signed_number(-500),
            format_percentage(0.1),
            format_percentage(0.125, digits=1),
            format_number(4, digits=1, min_digits=1),
        ] == expected


def text(response: Any) -> str:
    """The page's text with runs of ordinary white space made one space (no-break spaces stay)."""
    assert response.status_code == 200, response.status_code
    return re.sub(r"[ \t\r\n]+", " ", BeautifulSoup(response.data, "html.parser").get_text(" "))


@pytest.fixture
def shopper_with_points(client: FlaskClient, api: Any) -> FlaskClient:
    """Ada, signed in, with order 1001 and 1,234 points the shop gave her."""
    shopper = make_shopper()
    place(api)
    adjust_points(shopper.id, 1234, reason="Welcome", actor=Actor.system("test"))
    db.session.commit()
    sign_in(client, shopper)
    return client


def test_the_loyalty_page_in_german_and_french(shopper_with_points: FlaskClient) -> None:
    german = BeautifulSoup(shopper_with_points.get("/loyalty?lang=de").data, "html.parser")
    assert [dd.text for dd in german.select(".loyalty-figures dd")] == ["1.234", "0"]
    assert german.select_one(".loyalty-history__points").text == "+1.234"
    assert german.select_one("#tier-progress").text == f"0{NBSP}%"
    words = re.sub(r"[ \t\r\n]+", " ", german.get_text(" "))
    assert f"Silver (ab 250,00{NBSP}€ in 12 Monaten): Punkte × 1,25" in words
    assert f"Gold (ab 750,00{NBSP}€ in 12 Monaten): Punkte × 1,5" in words
    assert (
        f"1.000 Punkte für 12,00{NBSP}€ Guthaben" in words
    )  # the reward offered (from the form's Python code)

    french = BeautifulSoup(shopper_with_points.get("/loyalty?lang=fr").data, "html.parser")
    assert [dd.text for dd in french.select(".loyalty-figures dd")] == [f"1{NNBSP}234", "0"]
    assert french.select_one(".loyalty-history__points").text == f"+1{NNBSP}234"
    words = re.sub(r"[ \t\r\n]+", " ", french.get_text(" "))
    assert "points × 1,25" in words and "points × 1,5" in words
    assert f"1{NNBSP}000 points" in words


def test_the_points_an_order_will_earn_in_german(client: FlaskClient, api: Any) -> None:
    shopper = make_shopper()
    place(api, items=[{"sku": "TV-1", "name": "TV", "quantity": 1, "unit_price": "1500.00"}], total="1500.00")
    sign_in(client, shopper)
    words = text(client.get("/orders/1001?lang=de"))
    assert "Diese Bestellung bringt mindestens 1.500 Punkte, sobald sie zugestellt ist." in words


@pytest.fixture
def today() -> Iterator[None]:
    with clock.freeze(TODAY):
        yield


def test_the_store_credit_bonus_of_the_return_form(client: FlaskClient, api: Any, today: None) -> None:
    delivered_order(api)
    grant(client, "1001")
    german = text(client.get("/orders/1001/returns/new?lang=de"))
    assert f"Als Guthaben erhalten Sie 10{NBSP}% mehr" in german
    assert f"Vous recevez 10{NBSP}% de plus en avoir" in text(client.get("/orders/1001/returns/new?lang=fr"))
    assert "You get 10% more as store credit" in text(client.get("/orders/1001/returns/new?lang=en"))


def test_the_back_office_points_panel_and_flash_in_german(
    client: FlaskClient, shopper_with_points: FlaskClient
) -> None:
    from tests.orders.test_views import sign_in as staff_sign_in

    staff_sign_in(client, make_user("agent@example.com", "agent", "Alex Agent"))
    order_page = "/backoffice/orders/1001?lang=de"
    assert "Ada hat 1.234 verfügbare und 0 vorgemerkte Punkte." in text(client.get(order_page))
    response = post(client, "/backoffice/orders/1001/points?lang=de", {"points": "2000", "reason": "Sorry"})
    assert response.status_code == 303
    assert "+2.000 Punkte gebucht." in text(client.get(order_page))
    assert "Ada hat 3.234 verfügbare" in text(client.get(order_page))
