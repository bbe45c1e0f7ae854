"""Who may open which order route: every route in the access matrix, for every kind of viewer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.access_matrix import ORDER_ROUTES, VIEWERS, Route
from tests.orders.test_views import grant, make_order, shopper, sign_in


def become(viewer: str, client: Any, owner: Any) -> None:
    if viewer == "owner":
        sign_in(client, owner)
    elif viewer == "other_shopper":
        sign_in(client, shopper("bob@example.com"))
    elif viewer in ("agent", "admin"):
        sign_in(client, shopper(f"{viewer}@example.com", role=viewer))
    elif viewer == "guest_with_grant":
        grant(client, "1001")
    elif viewer == "guest_with_other_grant":
        grant(client, "2002")


@pytest.mark.parametrize("route", ORDER_ROUTES, ids=lambda r: r.template)
@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_access_matrix(client: Any, api: Any, route: Route, viewer: str) -> None:
    owner = shopper("ada.lovelace@example.com")  # order 1001 belongs to this account
    make_order(api, "1001")
    make_order(api, "2002", email="guest@example.com")
    become(viewer, client, owner)
    headers = {"HX-Request": "true"} if route.htmx else {}
    response = client.get(route.template.format(number="1001", tracking_number="T1001"), headers=headers)
    expected = route.ok_status if VIEWERS[viewer] else 404
    assert response.status_code == expected, (viewer, route.template)
