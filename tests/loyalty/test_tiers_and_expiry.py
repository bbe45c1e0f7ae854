"""Tiers by spend over the trailing 12 months (moves recorded), and points expiring oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from portal import clock
from portal.audit import Actor
from portal.extensions import db
from portal.loyalty import tasks, tiers
from portal.loyalty.models import TierChange
from portal.loyalty.spending import adjust_points, redeem_points
from portal.messaging.models import Message
from portal.returns import signals as return_signals
from tests.loyalty.conftest import StandInReturn, balance, delivered_order, entries, item_id, make_shopper

STAFF = Actor.system("test")


def moves(customer_id: int) -> list[tuple[str | None, str, str]]:
    return [
        (c.previous_tier, c.tier, c.reason)
        for c in db.session.scalars(
            select(TierChange).where(TierChange.customer_id == customer_id).order_by(TierChange.id)
        )
    ]


def big_order(api: Any, number: str, at: str, unit_price: str) -> None:
    items = [
        {"sku": "TEE-BLK-M", "name": "T-shirt", "quantity": 2, "unit_price": "19.95"},
        {"sku": "CAP-01", "name": "Cap", "quantity": 1, "unit_price": unit_price},
    ]
    delivered_order(api, number, at=at, items=items)


def test_tiers_follow_the_spend_of_the_trailing_12_months(api: Any) -> None:
    user = make_shopper()
    with clock.freeze(datetime(2026, 1, 12, 9, 0, tzinfo=UTC)):
        big_order(api, "1001", "2026-01-10T12:00:00+00:00", "260.00")  # 39.90 + 260 = 299.90: Silver
    assert moves(user.id) == [("Bronze", "Silver", "delivered")]
    with clock.freeze(datetime(2026, 6, 1, 9, 0, tzinfo=UTC)):
        big_order(api, "1002", "2026-05-30T12:00:00+00:00", "500.00")  # 299.90 + 539.90: Gold
        # Earned at the Silver rate (the tier before this delivery): 39.90 x 1.25 -> 49, 500 x 1.25 = 625.
        assert [e.points for e in entries(user.id, "earn")][-2:] == [49, 625]
    assert moves(user.id)[-1] == ("Silver", "Gold", "delivered")
    # A day before the first order's 12 months are over nothing changes; after, it ages out (back to Silver).
    with clock.freeze(datetime(2027, 1, 10, 11, 0, tzinfo=UTC)):
        assert tasks.age_out_tiers() == 0
    with clock.freeze(datetime(2027, 1, 10, 12, 0, 1, tzinfo=UTC)):
        assert tasks.age_out_tiers() == 1
        db.session.commit()
        assert tiers.qualifying_spend(user.id) == Decimal("539.9")
    assert moves(user.id)[-1] == ("Gold", "Silver", "aged_out")
    with clock.freeze(datetime(2027, 5, 31, 9, 0, tzinfo=UTC)):
        tasks.age_out_tiers()
        db.session.commit()
    assert moves(user.id)[-1] == ("Silver", "Bronze", "aged_out")


def test_a_return_takes_the_spend_out_of_the_tier(api: Any) -> None:
    user = make_shopper()
    with clock.freeze(datetime(2026, 1, 12, 9, 0, tzinfo=UTC)):
        big_order(api, "1001", "2026-01-10T12:00:00+00:00", "260.00")
        cap = item_id("1001", "CAP-01")
        return_signals.return_received.send(
            StandInReturn(1, "R-1"), lines=[(cap, 1)], occurred_at=clock.now()
        )
        db.session.commit()
        assert tiers.qualifying_spend(user.id) == Decimal("39.9")
    assert moves(user.id) == [("Bronze", "Silver", "delivered"), ("Silver", "Bronze", "returned")]


def test_points_expire_oldest_first(app: Any) -> None:
    user = make_shopper()
    with clock.freeze(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)):
        adjust_points(user.id, 300, reason="Welcome gift", actor=STAFF)
        db.session.commit()
    with clock.freeze(datetime(2026, 6, 5, 9, 0, tzinfo=UTC)):
        adjust_points(user.id, 400, reason="Apology for a late parcel", actor=STAFF)
        db.session.commit()
        redeem_points(user.id, 500, STAFF)  # 300 from January, 200 from June
        db.session.commit()
    with clock.freeze(datetime(2026, 7, 1, 9, 0, tzinfo=UTC)):
        adjust_points(user.id, 100, reason="Goodwill", actor=STAFF)
        db.session.commit()
    with clock.freeze(datetime(2027, 1, 5, 9, 0, 1, tzinfo=UTC)):
        assert tasks.expire_points() == 0  # January's points were spent first: nothing left to expire
        assert balance(user.id).available == 300
    with clock.freeze(datetime(2027, 6, 5, 9, 0, 1, tzinfo=UTC)):
        assert tasks.expire_points() == 1
        assert tasks.expire_points() == 0  # running twice expires once
        db.session.commit()
        [expired] = entries(user.id, "expire")
        assert expired.points == -200
        assert balance(user.id).available == 100
    with clock.freeze(datetime(2027, 7, 1, 9, 0, 1, tzinfo=UTC)):
        tasks.expire_points()
        db.session.commit()
        assert balance(user.id).available == 0
        assert [e.points for e in entries(user.id, "expire")] == [-200, -100]


def test_expiring_points_are_shown_and_reminded_once(app: Any, api: Any) -> None:
    user = make_shopper()
    with clock.freeze(datetime(2026, 10, 10, 9, 0, tzinfo=UTC)):
        delivered_order(api)  # available 12 Nov 2026, expiring 12 Nov 2027
    reminder_at = datetime(2027, 10, 20, 9, 0, tzinfo=UTC)
    with clock.freeze(reminder_at):
        soon = balance(user.id)
        assert soon.expiring_soon == 189 and soon.next_expiry == datetime(2027, 11, 12, 12, 0, tzinfo=UTC)
        reminded = tasks.remind_expiring_points()
        db.session.commit()
        again = tasks.remind_expiring_points()
        db.session.commit()
    messages = db.session.scalars(select(Message).where(Message.step == tasks.REMINDER_STEP)).all()
    assert (reminded, again) == (1, 0)
    assert [(m.channel, m.context["points"], m.scope) for m in messages] == [("email", 189, "pts-2027-11-12")]
    assert tasks.due_reminders(reminder_at + timedelta(days=1)) == []


def test_the_periodic_job_runs_everything_and_commits(app: Any) -> None:
    user = make_shopper()
    with clock.freeze(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)):
        adjust_points(user.id, 10, reason="Test", actor=STAFF)
        db.session.commit()
    with clock.freeze(datetime(2027, 1, 6, 9, 0, tzinfo=UTC)):
        summary = tasks.loyalty_periodic_job()
    assert "'expired': 1" in summary
    assert balance(user.id).available == 0


def test_the_worker_runs_the_periodic_job_queued_at_most_hourly(app: Any, run_worker: Any) -> None:
    user = make_shopper()
    # Long expired, so that the worker (a process of its own, on the real clock) expires it.
    with clock.freeze(datetime(2024, 1, 5, 9, 0, tzinfo=UTC)):
        adjust_points(user.id, 10, reason="Test", actor=STAFF)
        db.session.commit()
    assert tasks.queue_loyalty_periodic() is True
    assert tasks.queue_loyalty_periodic() is False  # within the hour: not again
    result = run_worker("default")
    assert result.returncode == 0, result.stderr
    db.session.expire_all()
    assert [e.points for e in entries(user.id, "expire")] == [-10]
