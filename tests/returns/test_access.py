"""Who may open a return's pages and label: exactly those who may see its order; anyone else gets 404."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest

from portal.audit import Actor
from portal.extensions import db
from portal.returns.service import LineRequest, ReturnRequest, request_return
from portal.returns.tasks import render_return_label
from tests.access_matrix import RETURN_ROUTES, VIEWERS, Route
from tests.orders.test_access import become
from tests.orders.test_views import shopper
from tests.returns.conftest import delivered_order, item_id


def without_tokens(html: bytes) -> bytes:
    """The page without its CSRF tokens (signed with the time, so they differ from one second to the next)."""
    return re.sub(rb'(X-CSRFToken": "|name="csrf_token" value=")[^"]+', rb"\1", html)


@pytest.mark.parametrize("route", RETURN_ROUTES, ids=lambda r: r.template + (" (htmx)" if r.htmx else ""))
@pytest.mark.parametrize("viewer", list(VIEWERS))
def test_return_access_matrix(client: Any, api: Any, route: Route, viewer: str, today: datetime) -> None:
    owner = shopper("ada.lovelace@example.com")  # order 1001 belongs to this account
    order = delivered_order(api, "1001")
    delivered_order(api, "2002", email="guest@example.com")
    line = LineRequest(item_id("1001", "TEE-BLK-M"), 1, "too_small")
    item, _ = request_return(
        order, ReturnRequest([line], "refund", "label", "access-key-00000000"), Actor.system("t")
    )
    db.session.commit()
    assert render_return_label(item.id) == "stored"
    become(viewer, client, owner)
    headers = {"HX-Request": "true"} if route.htmx else {}
    response = client.get(route.template.format(rma=item.rma), headers=headers)
    expected = route.ok_status if VIEWERS[viewer] else 404
    assert response.status_code == expected, (viewer, route.template)
    if expected == 404:
        # The same answer as for a return that does not exist (the page echoes only the address asked for).
        unknown = client.get(route.template.format(rma="R-ZZZZZZ"), headers=headers)
        assert unknown.status_code == 404
        assert without_tokens(response.data) == without_tokens(
            unknown.data.replace(b"R-ZZZZZZ", item.rma.encode())
        )


@pytest.mark.parametrize("viewer", ["other_shopper", "guest_with_other_grant", "anonymous"])
def test_strangers_cannot_cancel(client: Any, api: Any, viewer: str, today: datetime) -> None:
    owner = shopper("ada.lovelace@example.com")
    order = delivered_order(api, "1001")
    delivered_order(api, "2002", email="guest@example.com")
    line = LineRequest(item_id("1001", "TEE-BLK-M"), 1, "too_small")
    item, _ = request_return(
        order, ReturnRequest([line], "refund", "label", "access-key-00000000"), Actor.system("t")
    )
    db.session.commit()
    become(viewer, client, owner)
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/").get_data(as_text=True))
    assert client.post(f"/returns/{item.rma}/cancel", data={"csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert item.status == "approved"
