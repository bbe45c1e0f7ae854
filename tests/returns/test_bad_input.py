"""Every bad input of the return form gets a clear message next to its field, a 4xx, and nothing written."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.returns.models import Return, ReturnEvent, ReturnLabel, ReturnLine
from portal.webhooks.models import WebhookDelivery
from tests.orders.test_views import grant
from tests.returns.conftest import delivered_order, item_id, return_form


def nothing_written() -> None:
    for model in (Return, ReturnLine, ReturnEvent, ReturnLabel, WebhookDelivery):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0, model


def error_of(response: Any, field: str) -> str:
    html = BeautifulSoup(response.data, "html.parser")
    error = html.select_one(f"#{field}-error")
    assert error is not None, f"no error shown for {field}"
    control = html.select_one(f"[name={field}]")
    if control is not None and control.get("type") == "radio":
        control = control.find_parent("fieldset")
        assert f"{field}-error" in control.get("aria-describedby", ""), "error not tied to the choices"
    elif control is not None:
        assert f"{field}-error" in control.get("aria-describedby", ""), "error not tied to the field"
        assert control.get("aria-invalid") == "true"
    return " ".join(error.text.split())


@pytest.fixture
def ready(client: Any, api: Any, today: datetime) -> int:
    delivered_order(api)
    grant(client, "1001")
    return item_id("1001", "TEE-BLK-M")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quantity": "3"}, "quantity", "You can return at most 2 of this item."),
        ({"quantity": "two"}, "quantity", "Enter a whole number."),
        ({"quantity": "-1"}, "quantity", "Enter a whole number."),
        ({"quantity": "99999999999"}, "quantity", "Enter a whole number."),
        ({"reason": "bored"}, "reason", "Choose a reason from the list."),
        ({"reason": ""}, "reason", "Choose a reason from the list."),
        (
            {"reason": "damaged", "comment": "   "},
            "comment",
            "Please tell us a little more about this reason.",
        ),
        ({"reason": "other", "comment": "x" * 1001}, "comment", "Use at most 1000 characters."),
    ],
)
def test_bad_lines_are_refused_next_to_the_field(
    client: Any, ready: int, change: dict[str, str], field: str, message: str
) -> None:
    form = return_form(client, **{f"item-{ready}-{name}": value for name, value in change.items()})
    response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 422
    assert error_of(response, f"item-{ready}-{field}") == message
    nothing_written()


def test_nothing_chosen(client: Any, ready: int) -> None:
    response = client.post(
        "/orders/1001/returns/new", data=return_form(client, **{f"item-{ready}-quantity": "0"})
    )
    assert response.status_code == 422
    assert "Choose at least one item to return." in response.get_data(as_text=True)
    nothing_written()


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"resolution": "cash"}, "resolution", "Choose how you would like to be refunded."),
        ({"resolution": "exchange", "exchange_wish": " "}, "exchange_wish", "Tell us which size or colour"),
        ({"method": "pigeon"}, "method", "Choose how you will send the parcel."),
    ],
)
def test_bad_choices(client: Any, ready: int, change: dict[str, str], field: str, message: str) -> None:
    response = client.post("/orders/1001/returns/new", data=return_form(client, **change))
    assert response.status_code == 422
    assert message in error_of(response, field)
    nothing_written()


def test_items_from_another_order_are_refused(client: Any, api: Any, ready: int) -> None:
    delivered_order(api, "2002", email="someone@example.com")
    foreign = item_id("2002", "TEE-BLK-M")
    form = return_form(client, **{f"item-{foreign}-quantity": "1", f"item-{foreign}-reason": "too_small"})
    response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 422
    assert "This item is not part of this order." in response.get_data(as_text=True)
    nothing_written()


def test_the_cap_that_is_not_returnable_is_refused(client: Any, ready: int) -> None:
    cap = item_id("1001", "CAP-01")
    form = return_form(client, **{f"item-{cap}-quantity": "1", f"item-{cap}-reason": "too_small"})
    response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 422
    assert "This item cannot be returned." in response.get_data(as_text=True)
    nothing_written()


def test_a_closed_window_is_refused(client: Any, api: Any) -> None:
    # Delivered 30 days before 09:00: the window closes at 09:00 while the shopper fills in the form.
    with clock.freeze(datetime(2026, 11, 20, 8, 59, tzinfo=UTC)):
        delivered_order(api, delivered_at="2026-10-21T09:00:00+00:00")
        grant(client, "1001")
        form = return_form(client)
    with clock.freeze(datetime(2026, 11, 20, 9, 0, 1, tzinfo=UTC)):
        response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 422
    summary = BeautifulSoup(response.data, "html.parser").select_one("[role=alert]")
    assert summary is not None and "The return window closed on November 20, 2026." in summary.text
    assert "Nothing in this order can be returned at the moment." in response.get_data(as_text=True)
    nothing_written()


def test_a_second_return_of_the_same_items_is_refused(client: Any, ready: int) -> None:
    form = return_form(client, **{f"item-{ready}-quantity": "2"})
    again = {**form, "idempotency_key": "another-form-000000000", f"item-{ready}-quantity": "1"}
    assert client.post("/orders/1001/returns/new", data=form).status_code == 303
    response = client.post("/orders/1001/returns/new", data=again)
    assert response.status_code == 422
    assert "Nothing in this order can be returned at the moment." in response.get_data(as_text=True)
    assert "Already in a return." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Return)) == 1


def test_a_form_without_its_key_is_refused(client: Any, ready: int) -> None:
    response = client.post("/orders/1001/returns/new", data=return_form(client, idempotency_key="short"))
    assert response.status_code == 422
    assert "This form has expired" in response.get_data(as_text=True)
    nothing_written()


def test_html_in_comments_is_shown_as_text(client: Any, ready: int) -> None:
    comment = "<script>alert(1)</script><b>bold</b> שלום"
    form = return_form(client, **{f"item-{ready}-reason": "other", f"item-{ready}-comment": comment})
    response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_an_order_the_viewer_may_not_see_is_404(client: Any, api: Any, ready: int) -> None:
    delivered_order(api, "2002", email="someone@example.com")
    assert client.get("/orders/2002/returns/new").status_code == 404
    form = return_form(client)
    assert client.post("/orders/2002/returns/new", data=form).status_code == 404
    nothing_written()


def test_without_csrf_nothing_happens(client: Any, ready: int) -> None:
    form = return_form(client)
    del form["csrf_token"]
    assert client.post("/orders/1001/returns/new", data=form).status_code == 400
    nothing_written()
