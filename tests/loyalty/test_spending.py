"""Redemption for a store-credit code (never overspent, even by two requests at once); staff adjustments."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from portal import clock
from portal.audit import Actor, AuditEntry
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.loyalty.models import Redemption
from portal.loyalty.spending import adjust_points, hash_code, mark_code_used, redeem_points
from portal.webhooks.models import WebhookDelivery
from tests.loyalty.conftest import balance, entries, make_shopper

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
STAFF = Actor.system("test")


@pytest.fixture
def now(app: Flask) -> Any:
    with clock.freeze(NOW):
        yield NOW


def test_redeeming_spends_points_and_tells_the_shop_the_code(now: datetime) -> None:
    user = make_shopper()
    adjust_points(user.id, 700, reason="Gift", actor=STAFF)
    redeemed = redeem_points(user.id, 500, Actor.user(user.id, user.email))
    db.session.commit()
    assert balance(user.id).available == 200
    assert redeemed.code.startswith("PTS-") and len(redeemed.code) == 18
    stored = db.session.scalars(select(Redemption)).one()
    assert stored.code_hash == hash_code(redeemed.code) and redeemed.code not in repr(stored.__dict__)
    assert (stored.points, stored.value, stored.currency) == (500, 5, "EUR")
    [webhook] = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.type == "loyalty.redeemed"))
    data = json.loads(webhook.body)["data"]
    assert data["code"] == redeemed.code and data["value"] == "5.00" and data["customer"]["id"] == user.id
    assert db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "loyalty.redeemed")).all()
    used = mark_code_used(redeemed.code.lower(), STAFF)
    assert used.used_at == now
    with pytest.raises(Conflict):
        mark_code_used(redeemed.code, STAFF)
    with pytest.raises(NotFound):
        mark_code_used("PTS-NOPE", STAFF)


def test_redeeming_refuses_unknown_rewards_and_short_balances(now: datetime) -> None:
    user = make_shopper()
    adjust_points(user.id, 499, reason="Gift", actor=STAFF)
    db.session.commit()
    with pytest.raises(Invalid):
        redeem_points(user.id, 123, STAFF)
    with pytest.raises(Conflict) as refused:
        redeem_points(user.id, 500, STAFF)
    assert refused.value.code == "not_enough_points"
    db.session.rollback()
    assert entries(user.id, "redeem") == [] and balance(user.id).available == 499


def test_pending_points_cannot_be_spent(api: Any) -> None:
    from tests.loyalty.conftest import PLACED, delivered_order

    user = make_shopper()
    with clock.freeze(PLACED):
        delivered_order(api)
        adjust_points(user.id, 400, reason="Gift", actor=STAFF)
        db.session.commit()
        assert balance(user.id).pending == 189
        with pytest.raises(Conflict):
            redeem_points(user.id, 500, STAFF)


def _redeem_in_thread(app: Flask, user_id: int, barrier: threading.Barrier, results: list[str]) -> None:
    with app.app_context():
        try:
            barrier.wait(timeout=10)
            redeem_points(user_id, 500, STAFF)
            db.session.commit()
            results.append("ok")
        except Conflict:
            db.session.rollback()
            results.append("refused")
        except Exception as error:  # pragma: no cover - shown in the assertion
            db.session.rollback()
            results.append(repr(error))
        finally:
            db.session.remove()


@pytest.mark.parametrize("attempt", range(3))
def test_two_redemptions_at_once_never_overspend(app: Flask, now: datetime, attempt: int) -> None:
    user = make_shopper()
    user_id = user.id
    adjust_points(user_id, 600, reason="Gift", actor=STAFF)
    db.session.commit()
    db.session.remove()
    barrier = threading.Barrier(2)
    results: list[str] = []
    threads = [
        threading.Thread(target=_redeem_in_thread, args=(app, user_id, barrier, results)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == ["ok", "refused"]
    assert len(entries(user_id, "redeem")) == 1
    assert balance(user_id).available == 100


def test_staff_adjustments_need_a_reason_and_are_audited(now: datetime) -> None:
    user = make_shopper()
    with pytest.raises(Invalid) as missing:
        adjust_points(user.id, 50, reason="  ", actor=STAFF)
    assert "reason" in missing.value.fields
    with pytest.raises(Invalid) as zero:
        adjust_points(user.id, 0, reason="Nothing", actor=STAFF)
    assert "points" in zero.value.fields
    with pytest.raises(Invalid) as too_many:
        adjust_points(user.id, -10, reason="Take some", actor=STAFF)
    assert "points" in too_many.value.fields
    staff = make_shopper("agent@example.com", role="agent")
    with pytest.raises(NotFound):
        adjust_points(staff.id, 10, reason="Staff collect nothing", actor=STAFF)
    agent = Actor.user(staff.id, staff.email)
    adjust_points(user.id, 80, reason="Parcel arrived damaged", actor=agent)
    adjust_points(user.id, -30, reason="Duplicate goodwill", actor=agent)
    db.session.commit()
    assert [(e.points, e.note, e.actor_user_id) for e in entries(user.id, "adjust")] == [
        (80, "Parcel arrived damaged", staff.id),
        (-30, "Duplicate goodwill", staff.id),
    ]
    assert balance(user.id).available == 50
    audits = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "loyalty.adjusted")).all()
    assert [(a.actor_user_id, a.after["points"], a.after["reason"]) for a in audits] == [
        (staff.id, 80, "Parcel arrived damaged"),
        (staff.id, -30, "Duplicate goodwill"),
    ]
    assert audits[1].before["available"] == 80 and audits[1].after["available"] == 50
