"""The /loyalty page: who sees what, balances, tier progress, history with "load more", rewards, birthday;
and the points shown on the order page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, insert, select

from portal import clock
from portal.accounts.models import User
from portal.audit import Actor
from portal.extensions import db
from portal.loyalty.models import LedgerEntry, LoyaltyProfile
from portal.loyalty.spending import adjust_points
from portal.orders.models import Order
from tests.conftest import csrf_token
from tests.loyalty.conftest import (
    PLACED,
    WINDOW_CLOSES,
    delivered_order,
    grant,
    html,
    make_shopper,
    place,
    sign_in,
)

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def now(app: Flask) -> Any:
    with clock.freeze(NOW):
        yield NOW


def test_anonymous_visitors_and_guests_are_invited_to_create_an_account(
    client: Any, api: Any, now: datetime
) -> None:
    anonymous = client.get("/loyalty")
    assert anonymous.status_code == 200
    text = html(anonymous).text
    assert "Create an account to collect points" in text and "Available" not in text
    place(api)  # a guest order
    grant(client, "1001")
    guest = html(client.get("/loyalty")).text
    assert "Create an account with the e-mail address of your order" in guest
    assert client.post("/loyalty/redeem", data={"points": "500"}).status_code in (302, 400)
    assert db.session.scalar(select(LedgerEntry.id)) is None


def test_staff_are_told_points_belong_to_shoppers(client: Any, now: datetime) -> None:
    sign_in(client, make_shopper("agent@example.com", role="agent"))
    page = client.get("/loyalty")
    assert page.status_code == 200 and "Staff accounts do not collect points" in html(page).text
    token = csrf_token(page.data.decode())
    assert client.post("/loyalty/redeem", data={"points": "500", "csrf_token": token}).status_code == 403


def test_a_shopper_sees_balances_tier_progress_expiry_and_history(client: Any, api: Any) -> None:
    user = make_shopper()
    with clock.freeze(PLACED):
        delivered_order(api)
    sign_in(client, user)
    with clock.freeze(NOW):
        page = html(client.get("/loyalty"))
    figures = [dd.text.strip() for dd in page.select(".loyalty-figures dd")]
    assert figures == ["189", "0"]  # available since 12 November
    progress = page.select_one("progress#tier-progress")
    label = page.select_one("label[for=tier-progress]")
    assert label is not None and "€160.10 to Silver" in label.text  # 250 - 89.90
    assert progress["value"] == "35" and progress["max"] == "100"
    assert "Your tier: Bronze" in page.text
    rows = [" ".join(li.text.split()) for li in page.select(".loyalty-history__row")]
    assert rows[0].startswith("+50 1 × Cap, order 1001")
    assert rows[1].startswith("+100 Bonus for your first order 1001")
    assert rows[2].startswith("+39 2 × T-shirt, order 1001")
    with clock.freeze(WINDOW_CLOSES - timedelta(days=1)):
        pending = html(client.get("/loyalty"))
    assert [dd.text.strip() for dd in pending.select(".loyalty-figures dd")] == ["0", "189"]
    assert "pending until" in pending.select_one(".loyalty-history__row").text
    with clock.freeze(datetime(2027, 10, 20, 9, 0, tzinfo=UTC)):
        later = client.application.test_client()  # a year later: the earlier sign-in has timed out
        sign_in(later, user)
        expiring = html(later.get("/loyalty"))
    assert "189 points expire, the first on November 12, 2027" in " ".join(
        expiring.select_one("#expiring").text.split()
    )


def _fill_ledger(customer_id: int, count: int) -> None:
    db.session.execute(
        insert(LedgerEntry),
        [
            {
                "customer_id": customer_id,
                "kind": "adjust",
                "points": 1,
                "source_key": f"adjust:bulk-{customer_id}-{i}",
                "created_at": NOW - timedelta(minutes=count - i),
                "available_from": NOW - timedelta(minutes=count - i),
                "expires_at": NOW + timedelta(days=300),
                "debt_points": 0,
                "note": f"Entry {i}",
            }
            for i in range(count)
        ],
    )
    db.session.commit()


def count_queries(client: Any, path: str) -> int:
    return len(statements_of(client, path))


def statements_of(client: Any, path: str) -> list[str]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return statements


def test_the_page_runs_a_constant_number_of_queries(client: Any, now: datetime) -> None:
    few, many = make_shopper("few@example.com"), make_shopper("many@example.com")
    _fill_ledger(few.id, 10)
    _fill_ledger(many.id, 1000)
    sign_in(client, few)
    small = count_queries(client, "/loyalty")
    sign_in(client, many)
    large = count_queries(client, "/loyalty")
    assert small == large <= 8
    page = html(client.get("/loyalty"))
    assert page.select_one(".loyalty-figures dd").text.strip() == "1,000"  # grouped in the viewer's locale
    assert len(page.select(".loyalty-history__row")) == 20


def test_load_more_with_htmx_and_without(client: Any, now: datetime) -> None:
    user = make_shopper()
    _fill_ledger(user.id, 45)
    sign_in(client, user)
    page = html(client.get("/loyalty"))
    more = page.select_one(".loyalty-history__more a")
    assert more["href"].endswith("#history") and more["hx-target"] == "closest li"
    fragment = client.get(more["hx-get"], headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and b"<html" not in fragment.data
    rows = html(fragment).select(".loyalty-history__row")
    assert [r.select_one(".loyalty-history__what span").text for r in rows][:2] == [
        "Adjusted by the shop"
    ] * 2
    assert "Entry 24" in rows[0].text and "Entry 5" in rows[-1].text
    last = html(fragment).select_one(".loyalty-history__more a")
    final = html(client.get(last["hx-get"], headers={"HX-Request": "true"}))
    assert (
        len(final.select(".loyalty-history__row")) == 5 and final.select_one(".loyalty-history__more") is None
    )
    plain = client.get(more["href"].split("#")[0])
    assert plain.status_code == 200 and b"<html" in plain.data
    assert client.get("/loyalty?before=0").status_code == 404
    assert client.get("/loyalty?before=abc").status_code == 200


def test_redeeming_on_the_page_shows_the_code_once(client: Any, now: datetime) -> None:
    user = make_shopper()
    adjust_points(user.id, 650, reason="Gift", actor=Actor.system())
    db.session.commit()
    sign_in(client, user)
    page = client.get("/loyalty")
    token = csrf_token(page.data.decode())
    labels = [label.text for label in html(page).select("#redeem label")]
    assert labels == ["500 points for €5.00 store credit", "1,000 points for €12.00 store credit"]
    redeemed = client.post("/loyalty/redeem", data={"points": "500", "csrf_token": token})
    assert redeemed.status_code == 200 and redeemed.headers["Cache-Control"] == "no-store"
    code = html(redeemed).select_one(".loyalty-code__value").text.strip()
    assert re.fullmatch(r"PTS-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    again = client.get("/loyalty")
    assert code not in again.data.decode() and code[-4:] in again.data.decode()
    short = client.post("/loyalty/redeem", data={"points": "500", "csrf_token": token})
    assert short.status_code == 409
    error = html(short).select_one("#points-error")
    assert "not have enough points" in error.text
    assert html(short).select_one("fieldset")["aria-describedby"] == "points-error"
    assert client.post("/loyalty/redeem", data={"points": "7", "csrf_token": token}).status_code == 422
    assert client.post("/loyalty/redeem", data={"csrf_token": token}).status_code == 422
    assert client.post("/loyalty/redeem", data={"points": "500"}).status_code == 400  # no CSRF token


def test_setting_the_birthday(client: Any, now: datetime) -> None:
    user = make_shopper()
    sign_in(client, user)
    token = csrf_token(client.get("/loyalty").data.decode())
    saved = client.post("/loyalty/birthday", data={"birthday": "1990-03-14", "csrf_token": token})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/loyalty#birthday-bonus")
    profile = db.session.get(LoyaltyProfile, user.id)
    assert profile is not None and str(profile.birthday) == "1990-03-14" and profile.birthday_set_at == now
    assert html(client.get("/loyalty")).select_one("#birthday")["value"] == "1990-03-14"
    for bad in ("2030-01-01", "not a date", "1800-01-01"):
        refused = client.post("/loyalty/birthday", data={"birthday": bad, "csrf_token": token})
        assert refused.status_code == 422
        assert html(refused).select_one("#birthday-error") is not None
    db.session.expire_all()
    assert str(db.session.get(LoyaltyProfile, user.id).birthday) == "1990-03-14"
    cleared = client.post("/loyalty/birthday", data={"birthday": "", "csrf_token": token})
    assert cleared.status_code == 303
    db.session.expire_all()
    assert db.session.get(LoyaltyProfile, user.id).birthday is None


def test_the_order_page_shows_the_points_it_earns_or_earned(client: Any, api: Any) -> None:
    user = make_shopper()
    sign_in(client, user)
    with clock.freeze(PLACED):
        place(api, "1001")
        before = html(client.get("/orders/1001")).select_one(".loyalty-order").text
        assert "earns at least 89 points once it is delivered" in before
        delivered_order(api, "1002")
        after = " ".join(html(client.get("/orders/1002")).select_one(".loyalty-order").text.split())
        assert "This order earned 189 points." in after and "November 12, 2026" in after
    client.get("/logout")
    guest_client = client.application.test_client()
    place(api, "2001", email="guest@example.com")
    grant(guest_client, "2001")
    assert "Create an account to collect points" in html(guest_client.get("/orders/2001")).text


def test_the_order_page_needs_one_statement_for_its_points_whatever_the_ledger(client: Any, api: Any) -> None:
    user = make_shopper()
    sign_in(client, user)
    with clock.freeze(PLACED):
        place(api, "1001")
        undelivered = statements_of(client, "/orders/1001")
        delivered_order(api, "1002")
        delivered = count_queries(client, "/orders/1002")
        assert sum("loyalty_entries" in s for s in statements_of(client, "/orders/1002")) == 1
        order_id = db.session.scalar(select(Order.id).where(Order.number == "1002"))
        db.session.execute(
            insert(LedgerEntry),
            [
                {
                    "customer_id": user.id,
                    "kind": "bonus",
                    "points": 5,
                    "source_key": f"survey:{i}",
                    "created_at": PLACED,
                    "available_from": PLACED,
                    "order_id": order_id,
                    "debt_points": 0,
                }
                for i in range(200)
            ],
        )
        db.session.commit()
        assert count_queries(client, "/orders/1002") == delivered
    # The undelivered order's page shows an estimate without asking the ledger.
    assert not any("loyalty_entries" in s for s in undelivered)


def test_the_demo_shopper_has_a_loyalty_history(client: Any, app: Flask) -> None:
    from portal.demo import DEMO_USERS, seed_demo

    seed_demo()
    db.session.commit()
    seed_demo()  # idempotent
    db.session.commit()
    shopper = db.session.scalar(select(User).where(User.email == DEMO_USERS["shopper"][0]))
    assert shopper is not None
    kinds = db.session.scalars(select(LedgerEntry.kind).where(LedgerEntry.customer_id == shopper.id)).all()
    assert {"earn", "bonus", "adjust", "expire", "redeem"} <= set(kinds)
    assert kinds.count("redeem") == 1 and kinds.count("expire") == 1
    sign_in(client, shopper)
    assert len(html(client.get("/loyalty")).select(".loyalty-history__row")) >= 10
