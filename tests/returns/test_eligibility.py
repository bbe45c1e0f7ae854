"""Which items may be returned, how many and until when, with the house clock frozen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bs4 import BeautifulSoup
from sqlalchemy import select

from portal import clock
from portal.audit import Actor
from portal.extensions import db
from portal.orders.models import Order
from portal.returns import eligibility
from portal.returns.service import LineRequest, ReturnRequest, cancel_return, reject_return, request_return
from tests.factories import order_body
from tests.orders.test_views import shopper, sign_in
from tests.returns.conftest import delivered_order, item_id

SHOPPER = Actor("guest", "guest of order 1001")


def by_sku(order: Any, now: datetime) -> dict[str, eligibility.ItemEligibility]:
    return {found.item.sku: found for found in eligibility.order_eligibility(order, now)}


def ask(order: Any, quantity: int, key: str, reason: str = "too_small") -> Any:
    line = LineRequest(item_id(order.number, "TEE-BLK-M"), quantity, reason)
    item, _ = request_return(order, ReturnRequest([line], "refund", "label", key), SHOPPER)
    db.session.commit()
    return item


def test_the_window_runs_from_delivery_for_the_configured_days(api: Any, today: datetime) -> None:
    order = delivered_order(api)
    tee = by_sku(order, today)["TEE-BLK-M"]
    assert tee.eligible and tee.remaining == 2
    assert tee.deadline == datetime(2026, 12, 12, 12, 0, tzinfo=UTC)
    last_moment = by_sku(order, tee.deadline)["TEE-BLK-M"]
    assert last_moment.eligible
    closed = by_sku(order, tee.deadline + timedelta(seconds=1))["TEE-BLK-M"]
    assert not closed.eligible and closed.blocked_by == eligibility.WINDOW_CLOSED


def test_the_window_length_is_a_shop_setting(api: Any, app: Any, today: datetime) -> None:
    order = delivered_order(api)
    app.config["RETURN_WINDOW_DAYS"] = 14
    try:
        assert by_sku(order, today)["TEE-BLK-M"].deadline == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    finally:
        app.config["RETURN_WINDOW_DAYS"] = 30


def test_items_not_returnable_or_not_delivered_say_why(api: Any, today: datetime) -> None:
    order = delivered_order(api)
    assert by_sku(order, today)["CAP-01"].blocked_by == eligibility.NOT_RETURNABLE
    assert api.put("/orders/2002", json=order_body()).status_code == 201
    undelivered = db.session.scalar(select(Order).where(Order.number == "2002"))
    assert undelivered is not None
    assert by_sku(undelivered, today)["TEE-BLK-M"].blocked_by == eligibility.NOT_DELIVERED


def test_open_and_finished_returns_hold_their_quantity_but_rejected_and_cancelled_do_not(
    api: Any, today: datetime
) -> None:
    order = delivered_order(api)
    first = ask(order, 1, "key-one-0000000000")
    assert by_sku(order, today)["TEE-BLK-M"].remaining == 1
    second = ask(order, 1, "key-two-0000000000")
    tee = by_sku(order, today)["TEE-BLK-M"]
    assert tee.remaining == 0 and tee.blocked_by == eligibility.ALREADY_RETURNED
    cancel_return(first, SHOPPER)
    reject_return(second, Actor.system("staff"), reason="Worn")
    db.session.commit()
    assert by_sku(order, today)["TEE-BLK-M"].remaining == 2


def test_the_order_page_says_until_when_or_why_not(client: Any, api: Any) -> None:
    with clock.freeze(datetime(2026, 11, 20, 9, 0, tzinfo=UTC)):
        owner = shopper()
        sign_in(client, owner)
        delivered_order(api)
        page = BeautifulSoup(client.get("/orders/1001").data, "html.parser")
        panel = page.select_one("#returns")
        assert panel is not None
        text = " ".join(panel.text.split())
        assert "Returnable until December 12, 2026" in text
        assert "This item cannot be returned." in text
        assert panel.select_one("a[href='/orders/1001/returns/new']").text == "Return items"
        german = BeautifulSoup(
            client.get("/orders/1001", headers={"Accept-Language": "de"}).data, "html.parser"
        ).select_one("#returns")
        assert "12. Dezember 2026" in german.text
    with clock.freeze(datetime(2026, 12, 13, 9, 0, tzinfo=UTC)):
        with client.session_transaction() as session:
            session.clear()  # weeks later: a fresh sign-in
        sign_in(client, owner)
        panel = BeautifulSoup(client.get("/orders/1001").data, "html.parser").select_one("#returns")
        text = " ".join(panel.text.split())
        assert "The return window closed on December 12, 2026." in text
        assert panel.select_one("a[href='/orders/1001/returns/new']") is None
