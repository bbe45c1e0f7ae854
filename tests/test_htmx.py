"""Every page that serves htmx fragments renders them: a fragment request gets a block, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import order_body, shipment_body
from tests.orders.test_views import make_order, shopper, sign_in

FRAGMENT = {"HX-Request": "true"}


@pytest.fixture
def signed_in_shopper(client: Any, api: Any) -> None:
    user = shopper()
    make_order(api, "1001")
    sign_in(client, user)


@pytest.mark.parametrize(
    "path", ["/", "/track", "/orders", "/orders/1001", "/orders/1001/shipments/T1001", "/account"]
)
def test_fragment_requests_render(client: Any, signed_in_shopper: None, path: str) -> None:
    response = client.get(path, headers=FRAGMENT)
    assert response.status_code == 200, response.data[:500]
    if path not in ("/", "/account"):  # these pages have no fragments and send the full page
        assert b"<html" not in response.data
        assert "HX-Request" in response.headers["Vary"]


def test_fragment_of_a_form_with_errors(client: Any) -> None:
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/track").get_data(as_text=True))
    response = client.post(
        "/track", data={"csrf_token": token, "order_number": "", "email": "x"}, headers=FRAGMENT
    )
    assert response.status_code == 422
    assert b"<html" not in response.data
    assert b'aria-invalid="true"' in response.data


def test_boosted_navigation_gets_the_whole_page(client: Any, api: Any) -> None:
    api.put("/orders/1001", json=order_body())
    api.put("/orders/1001/shipments/T1", json=shipment_body())
    response = client.get("/track", headers={**FRAGMENT, "HX-Boosted": "true"})
    assert b"<html" in response.data
