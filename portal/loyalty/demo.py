"""The demo shopper's loyalty history beyond what the demo orders earn by themselves: a birthday, a welcome
gift, last year's birthday bonus, points that expired, and a reward already redeemed. Idempotent: every entry
has a fixed source key, and the redemption happens once."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.audit import Actor
from portal.errors import Conflict
from portal.extensions import db
from portal.loyalty.ledger import book_credit, entry_exists, lock_points, open_credits
from portal.loyalty.models import Redemption
from portal.loyalty.spending import redeem_points, redemption_options
from portal.loyalty.tasks import expire_points

DEMO_BIRTHDAY = date(1991, 5, 17)


def seed_loyalty_history(shopper_email: str) -> int:
    """Add the demo shopper's extra loyalty history once; return how many entries were new."""
    user = db.session.scalar(select(User).where(User.email == shopper_email))
    if user is None:
        return 0
    now = clock.now()
    profile = lock_points(user.id)
    if profile.birthday is None:
        profile.birthday = DEMO_BIRTHDAY
        profile.birthday_set_at = now - timedelta(days=400)
    created = 0
    old_card = "Points carried over from our old loyalty card"
    welcome = "Welcome to our rewards: thank you for shopping with us"
    history = (
        ("adjust", 60, f"adjust:demo-old-card-{user.id}", 430, old_card),
        ("adjust", 300, f"adjust:demo-welcome-{user.id}", 200, welcome),
        ("bonus", 200, f"birthday:{user.id}:{now.year - 1}", 190, None),
    )
    for kind, points, key, days_ago, note in history:
        if entry_exists(key):
            continue
        when = now - timedelta(days=days_ago)
        entry = book_credit(user.id, kind, points, key, available_from=when, note=note)
        if entry is not None:
            entry.created_at = when
            created += 1
    db.session.flush()
    created += expire_points(now)
    already_redeemed = db.session.scalar(select(Redemption.id).where(Redemption.customer_id == user.id))
    options = redemption_options()
    if already_redeemed is None and options:
        available = sum(credit.remaining for credit in open_credits(user.id, available_at=now))
        if available >= options[0].points:
            try:
                redeem_points(user.id, options[0].points, Actor.user(user.id, user.email))
                created += 1
            except Conflict:
                pass
    db.session.flush()
    return created
