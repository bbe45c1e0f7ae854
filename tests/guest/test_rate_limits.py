"""Failed lookups are limited per client IP and per order number; asking for links is limited too."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.orders.models import Order
from tests.conftest import ApiClient
from tests.guest.conftest import granted_order_ids, post_lookup, put_order

TRY_AGAIN = re.compile(r"Too many attempts\. Please try again in (\d+) minutes?\.")
HIGH = "1000 per hour"


def from_ip(number: int) -> dict[str, Any]:
    return {"environ_base": {"REMOTE_ADDR": f"10.0.0.{number}"}}


def ask_for_link(client: FlaskClient, number: str, email: str, ip: int) -> Any:
    return post_lookup(client, number, email, path="/track/link", **from_ip(ip))


def assert_too_many_attempts(response: Any, window_seconds: int) -> None:
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= window_seconds
    match = TRY_AGAIN.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    # Whole minutes, rounded up (the header is computed a moment later, hence the tolerance).
    assert abs(int(match.group(1)) - math.ceil(retry_after / 60)) <= 1


@pytest.fixture
def limited_app(make_app: Any) -> Flask:
    return make_app(
        GUEST_LOOKUP_LIMIT_IP="3 per hour",
        GUEST_LOOKUP_LIMIT_ORDER="2 per 10 minutes",
        GUEST_LINK_LIMIT_IP="2 per hour",
        GUEST_LINK_LIMIT_ORDER=HIGH,
    )


def test_failures_from_one_ip_are_limited(limited_app: Flask, order: Order) -> None:
    client = limited_app.test_client()
    for attempt in range(3):  # different numbers, so only the per-IP limit can trigger
        response = post_lookup(client, f"DS-{attempt}", "ada@example.com", **from_ip(1))
        assert response.status_code == 200

    blocked = post_lookup(client, "DS-1001", "ada@example.com", **from_ip(1))

    assert_too_many_attempts(blocked, 3600)
    assert granted_order_ids(client) == frozenset()
    # Another client is not affected.
    other = limited_app.test_client()
    assert post_lookup(other, "DS-1001", "ada@example.com", **from_ip(2)).status_code == 303


def test_failures_on_one_order_number_are_limited_whoever_tries(limited_app: Flask, order: Order) -> None:
    # Spelled differently each time: the limit counts the normalised number.
    for ip, typed in enumerate(["DS-1001", " #ds-1001 "], start=10):
        client = limited_app.test_client()
        assert post_lookup(client, typed, "eve@example.com", **from_ip(ip)).status_code == 200

    client = limited_app.test_client()
    blocked = post_lookup(client, "Ds-1001", "ada@example.com", **from_ip(20))

    assert_too_many_attempts(blocked, 600)
    assert granted_order_ids(client) == frozenset()
    # Another order number from the same client still works.
    assert post_lookup(client, "DS-2002", "ada@example.com", **from_ip(20)).status_code == 200


def test_successes_do_not_count(limited_app: Flask, api: ApiClient, order: Order) -> None:
    put_order(api, "DS-2002", "ada@example.com")
    client = limited_app.test_client()
    for _ in range(5):
        for number in ("DS-1001", "DS-2002"):
            assert post_lookup(client, number, "ada@example.com", **from_ip(1)).status_code == 303
    for attempt in range(3):
        assert post_lookup(client, f"DS-{attempt}", "ada@example.com", **from_ip(1)).status_code == 200

    assert_too_many_attempts(post_lookup(client, "DS-7", "ada@example.com", **from_ip(1)), 3600)


def test_the_page_itself_is_not_limited(limited_app: Flask) -> None:
    client = limited_app.test_client()
    for _ in range(10):
        assert client.get("/track", **from_ip(1)).status_code == 200


def test_asking_for_links_is_limited_per_ip_hit_or_miss(limited_app: Flask, order: Order) -> None:
    client = limited_app.test_client()
    assert ask_for_link(client, "DS-1001", "ada@example.com", ip=1).status_code == 200
    assert ask_for_link(client, "DS-4040", "ada@example.com", ip=1).status_code == 200

    blocked = ask_for_link(client, "DS-1001", "ada@example.com", ip=1)

    assert_too_many_attempts(blocked, 3600)


def test_asking_for_links_is_limited_per_order_number(make_app: Any, order: Order) -> None:
    client = make_app(GUEST_LINK_LIMIT_IP=HIGH, GUEST_LINK_LIMIT_ORDER="1 per hour").test_client()
    assert ask_for_link(client, "DS-1001", "ada@example.com", ip=1).status_code == 200

    blocked = ask_for_link(client, "ds-1001", "eve@example.com", ip=2)

    assert_too_many_attempts(blocked, 3600)


def test_default_limits_allow_a_few_mistakes(client: FlaskClient, order: Order) -> None:
    for _ in range(4):
        assert post_lookup(client, "DS-1001", "typo@example.com").status_code == 200
    assert post_lookup(client, "DS-1001", "ada@example.com").status_code == 303
