"""Guest lookup at /track: normalisation, the grant, and one answer for a miss and for a wrong e-mail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask.testing import FlaskClient
from sqlalchemy import event

from portal.accounts.service import create_user
from portal.extensions import db, limiter
from portal.orders.models import Order
from tests.conftest import ApiClient
from tests.guest.conftest import (
    form_token,
    granted_order_ids,
    post_lookup,
    put_order,
    without_csrf_tokens,
)

NOT_FOUND = "We could not find an order with that number and email address."


def test_the_lookup_page_has_the_form_and_the_link_option(client: FlaskClient) -> None:
    response = client.get("/track")

    assert response.status_code == 200
    soup = BeautifulSoup(response.data, "html.parser")
    form = soup.find("form", action="/track")
    assert form is not None and form["method"] == "post"
    number = form.find("input", attrs={"name": "order_number"})
    email = form.find("input", attrs={"name": "email"})
    assert number["autocomplete"] == "off" and number.has_attr("required")
    assert email["type"] == "email" and email["autocomplete"] == "email"
    for control in (number, email):
        assert soup.find("label", attrs={"for": control["id"]}) is not None
    link_button = form.find("button", attrs={"formaction": "/track/link"})
    assert link_button is not None and link_button.get_text(strip=True) == "Email me a link instead"


def test_a_match_grants_exactly_that_order_and_redirects_to_it(client: FlaskClient, api: ApiClient) -> None:
    order = put_order(api, "DS-1001", "ada@example.com")
    other = put_order(api, "DS-1002", "ada@example.com")

    response = post_lookup(client, "DS-1001", "ada@example.com")

    assert response.status_code == 303
    assert response.headers["Location"] == "/orders/DS-1001"
    assert granted_order_ids(client) == {order.id}
    assert other.id not in granted_order_ids(client)


def test_a_second_lookup_adds_to_the_grants_of_this_browser(client: FlaskClient, api: ApiClient) -> None:
    first = put_order(api, "DS-1001", "ada@example.com")
    second = put_order(api, "DS-1002", "bob@example.com")

    post_lookup(client, "DS-1001", "ada@example.com")
    post_lookup(client, "DS-1002", "bob@example.com")

    assert granted_order_ids(client) == {first.id, second.id}


@pytest.mark.parametrize(
    ("typed_number", "typed_email"),
    [
        ("  #ds-1001 ", " ADA@EXAMPLE.COM "),
        ("ds-1001", "ada@example.com"),
        ("# DS-1001", "Ada@Example.Com"),
        ("DS-1001", "\tada@example.com\n"),
    ],
)
def test_number_and_email_are_normalised(
    client: FlaskClient, order: Order, typed_number: str, typed_email: str
) -> None:
    response = post_lookup(client, typed_number, typed_email)

    assert response.status_code == 303
    assert response.headers["Location"] == "/orders/DS-1001"
    assert granted_order_ids(client) == {order.id}


def test_a_lower_case_number_is_found_by_its_upper_case_form(client: FlaskClient, api: ApiClient) -> None:
    order = put_order(api, "ds-2001-x", "ada@example.com")

    response = post_lookup(client, "DS-2001-X", "ada@example.com")

    assert response.status_code == 303
    assert response.headers["Location"] == "/orders/ds-2001-x"
    assert granted_order_ids(client) == {order.id}


def test_numbers_that_differ_only_in_case_are_told_apart_by_the_email(
    client: FlaskClient, api: ApiClient
) -> None:
    put_order(api, "AB-1", "ada@example.com")
    bob = put_order(api, "ab-1", "bob@example.com")

    response = post_lookup(client, "Ab-1", "bob@example.com")

    assert response.headers["Location"] == "/orders/ab-1"
    assert granted_order_ids(client) == {bob.id}


def test_an_order_of_an_account_can_still_be_looked_up(client: FlaskClient, order: Order) -> None:
    user = create_user("ada@example.com", "a long enough password", name="Ada")
    order.customer_id = user.id
    db.session.commit()

    response = post_lookup(client, "DS-1001", "ada@example.com")

    assert response.status_code == 303
    assert granted_order_ids(client) == {order.id}


@pytest.mark.parametrize(
    ("typed_number", "typed_email"),
    [("DS-9999", "ada@example.com"), ("DS-1001", "eve@example.com"), ("DS-100", "ada@example.com")],
)
def test_a_failed_lookup_grants_nothing(
    client: FlaskClient, order: Order, typed_number: str, typed_email: str
) -> None:
    response = post_lookup(client, typed_number, typed_email)

    assert response.status_code == 200
    assert NOT_FOUND in response.get_data(as_text=True)
    assert granted_order_ids(client) == frozenset()


VOLATILE_HEADERS = {
    "Content-Security-Policy",
    "Set-Cookie",
    "X-RateLimit-Reset",
    "Retry-After",
    "X-Request-ID",
}


def _stable_headers(response: Any) -> list[tuple[str, str]]:
    return sorted((key, value) for key, value in response.headers if key not in VOLATILE_HEADERS)


@contextmanager
def recorded_sql() -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_miss_and_a_wrong_email_give_the_same_answer_byte_for_byte(
    client: FlaskClient, api: ApiClient
) -> None:
    # The same request twice: first no such order exists, then it exists with another e-mail address.
    with recorded_sql() as miss_sql:
        miss = post_lookup(client, "DS-1001", "eve@example.com")
    put_order(api, "DS-1001", "ada@example.com")
    limiter.reset()  # so the rate-limit headers start from the same count
    with recorded_sql() as wrong_email_sql:
        wrong_email = post_lookup(client, "DS-1001", "eve@example.com")

    assert miss.status_code == wrong_email.status_code == 200
    assert without_csrf_tokens(miss.get_data(as_text=True)) == without_csrf_tokens(
        wrong_email.get_data(as_text=True)
    )
    assert _stable_headers(miss) == _stable_headers(wrong_email)
    assert NOT_FOUND in miss.get_data(as_text=True)
    # The same database work on both paths: the same statements in the same order.
    assert miss_sql == wrong_email_sql


def test_an_unknown_number_and_a_wrong_email_differ_only_in_the_echoed_input(
    client: FlaskClient, order: Order
) -> None:
    miss = post_lookup(client, "DS-9999", "ada@example.com")
    wrong_email = post_lookup(client, "DS-1001", "eve@example.com")

    def normalised(response: Any) -> str:
        html = without_csrf_tokens(response.get_data(as_text=True))
        return re.sub(r'(name="(order_number|email)"[^>]*value=")[^"]*"', r'\1"', html)

    assert miss.status_code == wrong_email.status_code
    assert normalised(miss) == normalised(wrong_email)


@pytest.mark.parametrize(
    ("typed_number", "typed_email", "message"),
    [
        ("", "ada@example.com", "Enter your order number."),
        ("   ", "ada@example.com", "Enter your order number."),
        ("#", "ada@example.com", "Enter your order number."),
        ("DS-1001", "", "Enter the email address you used for the order."),
        ("DS-1001", "not-an-address", "Enter an email address like name@example.com."),
        ("D" * 65, "ada@example.com", "An order number has at most 64 characters."),
        ("D" * 100_000, "ada@example.com", "An order number has at most 64 characters."),
        ("DS-1001", "a" * 250 + "@example.com", "An email address has at most 254 characters."),
        ("DS\x001001", "ada@example.com", "Enter the order number as it appears in your order confirmation."),
        ("DS-1001", "ada@example.com\x00", "Enter an email address like name@example.com."),
    ],
)
def test_bad_input_gets_a_message_next_to_the_field(
    client: FlaskClient, order: Order, typed_number: str, typed_email: str, message: str
) -> None:
    for path in ("/track", "/track/link"):
        response = post_lookup(client, typed_number, typed_email, path=path)

        assert response.status_code == 422, path
        soup = BeautifulSoup(response.data, "html.parser")
        errors = " ".join(error.get_text() for error in soup.select(".field-error"))
        assert message in errors
        assert soup.select_one('[aria-invalid="true"]') is not None
        assert soup.select_one('[role="alert"]') is not None
    assert granted_order_ids(client) == frozenset()


def test_a_body_over_the_size_limit_is_refused_with_a_page(client: FlaskClient, order: Order) -> None:
    response = post_lookup(client, "DS-1001", "a" * 2_000_000)

    assert response.status_code == 413
    assert "text/html" in response.content_type


def test_a_post_without_csrf_token_is_refused(client: FlaskClient, order: Order) -> None:
    for path in ("/track", "/track/link"):
        response = client.post(path, data={"order_number": "DS-1001", "email": "ada@example.com"})
        assert response.status_code == 400
    assert granted_order_ids(client) == frozenset()


def test_a_post_with_a_foreign_csrf_token_is_refused(client: FlaskClient, app: Any, order: Order) -> None:
    other_browser = app.test_client()
    token = form_token(other_browser)

    response = client.post("/track", data={"csrf_token": token, "order_number": "DS-1001", "email": "x@y.z"})

    assert response.status_code == 400
