"""A return received through the real returns service takes back exactly the returned line's points."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from portal import clock
from portal.audit import Actor
from portal.extensions import db
from portal.returns.service import LineRequest, ReturnRequest, mark_received, request_return
from tests.loyalty.conftest import (
    PLACED,
    balance,
    delivered_order,
    entries,
    html,
    item_id,
    make_shopper,
    sign_in,
)


def test_a_received_return_claws_back_its_lines_and_says_why(client: Any, api: Any) -> None:
    user = make_shopper()
    with clock.freeze(PLACED + timedelta(days=5)):
        order = delivered_order(api)
        tee = item_id("1001", "TEE-BLK-M")
        request = ReturnRequest(
            lines=[LineRequest(order_item_id=tee, quantity=1, reason_code="too_small")],
            resolution="refund",
            method="label",
            idempotency_key="loyalty-test-1",
        )
        returned, created = request_return(order, request, Actor.user(user.id, user.email))
        assert created and returned.status == "approved"
        db.session.commit()
        assert entries(user.id, "clawback") == []  # nothing happens before the parcel is back
        mark_received(returned, Actor.system("warehouse"), occurred_at=clock.now())
        db.session.commit()
        [clawback] = entries(user.id, "clawback")
        assert (clawback.points, clawback.order_item_id, clawback.quantity) == (-19, tee, 1)
        assert clawback.reference == returned.rma
        assert balance(user.id).pending == 189 - 19
        sign_in(client, user)
        rows = [
            " ".join(li.text.split()) for li in html(client.get("/loyalty")).select(".loyalty-history__row")
        ]
        assert rows[0].startswith(f"-19 Returned 1 × T-shirt (return {returned.rma})")
        assert "Points earned on returned items are taken back." in rows[0]
        order_page = " ".join(html(client.get("/orders/1001")).select_one(".loyalty-order").text.split())
        assert "19 points were taken back for returned items" in order_page
