"""Tiers: by qualifying spend over the trailing 12 months, recomputed as orders are delivered, returned or
age out.

Qualifying spend is the sum of the ledger's `spend` amounts (earned lines add, returned lines take away)
counted at the delivery time, so a return removes the spend from the month it was made in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from portal import clock, shop_settings
from portal.extensions import db
from portal.loyalty.ledger import add_months
from portal.loyalty.models import LedgerEntry, TierChange

TRAILING_MONTHS = 12


@dataclass(frozen=True)
class Tier:
    name: str
    min_spend: Decimal
    multiplier: Decimal


def tiers() -> list[Tier]:
    """The shop's tiers, lowest first (LOYALTY_TIERS)."""
    configured = shop_settings.get("LOYALTY_TIERS") or [
        {"name": "Member", "min_spend": "0", "multiplier": "1"}
    ]
    result = [
        Tier(str(t["name"]), Decimal(str(t.get("min_spend", "0"))), Decimal(str(t.get("multiplier", "1"))))
        for t in configured
    ]
    return sorted(result, key=lambda tier: tier.min_spend)


def tier_for(spend: Decimal) -> Tier:
    levels = tiers()
    reached = [tier for tier in levels if tier.min_spend <= spend]
    return reached[-1] if reached else levels[0]


def next_tier(current: Tier) -> Tier | None:
    higher = [tier for tier in tiers() if tier.min_spend > current.min_spend]
    return higher[0] if higher else None


def window_start(at: datetime) -> datetime:
    return add_months(at, -TRAILING_MONTHS)


def qualifying_spend(customer_id: int, at: datetime | None = None) -> Decimal:
    """Spend on delivered (and not returned) lines in the 12 months up to `at`."""
    at = at or clock.now()
    total = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.spend), 0)).where(
            LedgerEntry.customer_id == customer_id,
            LedgerEntry.spend.is_not(None),
            LedgerEntry.spend_at > window_start(at),
            LedgerEntry.spend_at <= at,
        )
    )
    return max(Decimal(0), Decimal(str(total or 0)))


def recorded_tier(customer_id: int) -> str | None:
    return db.session.scalar(
        select(TierChange.tier)
        .where(TierChange.customer_id == customer_id)
        .order_by(TierChange.id.desc())
        .limit(1)
    )


def recompute_tier(customer_id: int, reason: str) -> TierChange | None:
    """Record a move if the shopper's tier by spend differs from the recorded one; return the move, if any.

    A shopper with no move recorded is in the lowest tier.
    """
    spend = qualifying_spend(customer_id)
    tier = tier_for(spend)
    previous = recorded_tier(customer_id) or tiers()[0].name
    if tier.name == previous:
        return None
    change = TierChange(
        customer_id=customer_id,
        previous_tier=previous,
        tier=tier.name,
        qualifying_spend=spend,
        reason=reason,
        at=clock.now(),
    )
    db.session.add(change)
    db.session.flush()
    return change


def customers_above_lowest_tier() -> list[int]:
    """Shoppers whose recorded tier is above the lowest: the ones whose spend may age out."""
    lowest = tiers()[0].name
    latest = (
        select(TierChange.customer_id, func.max(TierChange.id).label("last_id"))
        .group_by(TierChange.customer_id)
        .subquery()
    )
    return list(
        db.session.scalars(
            select(TierChange.customer_id)
            .join(latest, latest.c.last_id == TierChange.id)
            .where(TierChange.tier != lowest)
            .order_by(TierChange.customer_id)
        )
    )
