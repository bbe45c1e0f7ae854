"""The points ledger itself: locking a shopper's points, booking credits and debits, and deriving balances.

Every credit (earn, bonus, positive adjustment) is a lot with its own `available_from` and `expires_at`; every
debit says, through allocations, which lots it took its points from. A lot's remaining points are its points
minus what was allocated from it, so balances are sums over the rows, never a stored counter.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite

from portal import clock, shop_settings
from portal.db import UTCDateTime
from portal.extensions import db
from portal.loyalty.models import Allocation, LedgerEntry, LoyaltyProfile


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, the day clamped to the month's end (31 Jan → 28/29 Feb)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def expiry_for(available_from: datetime) -> datetime | None:
    months = int(shop_settings.get("LOYALTY_EXPIRY_MONTHS"))
    return add_months(available_from, months) if months > 0 else None


def lock_points(customer_id: int) -> LoyaltyProfile:
    """Create the shopper's profile row if needed and lock it until the transaction ends.

    Everything that reads a balance and then books against it holds this lock first, so two redemptions (or a
    redemption and a clawback) for the same shopper run one after the other. PostgreSQL locks the row with
    SELECT … FOR UPDATE; SQLite has no row locks, so a write to the row takes the database's write lock
    before the balance is read (a plain read first would let both transactions see the same balance).
    """
    now = clock.now()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(
        insert(LoyaltyProfile.__table__)
        .values(user_id=customer_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    if dialect == "postgresql":
        profile = db.session.scalars(
            select(LoyaltyProfile)
            .where(LoyaltyProfile.user_id == customer_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    else:
        db.session.execute(
            update(LoyaltyProfile)
            .where(LoyaltyProfile.user_id == customer_id)
            .values(locked_at=now)
            .execution_options(synchronize_session=False)
        )
        profile = db.session.scalars(
            select(LoyaltyProfile)
            .where(LoyaltyProfile.user_id == customer_id)
            .execution_options(populate_existing=True)
        ).one()
    return profile


def entry_exists(source_key: str) -> bool:
    return db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_key == source_key)) is not None


def _remaining_column() -> Any:
    used = (
        select(func.coalesce(func.sum(Allocation.points), 0))
        .where(Allocation.credit_id == LedgerEntry.id)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    return (LedgerEntry.points - used).label("remaining")


@dataclass(frozen=True)
class OpenCredit:
    entry: LedgerEntry
    remaining: int


def open_credits(
    customer_id: int,
    *,
    available_at: datetime | None = None,
    ids: Sequence[int] | None = None,
) -> list[OpenCredit]:
    """The shopper's credits with points left, oldest first.

    With `available_at`, only those spendable then (available and not yet expired); with `ids`, only those.
    """
    remaining = _remaining_column()
    query = select(LedgerEntry, remaining).where(
        LedgerEntry.customer_id == customer_id, LedgerEntry.points > 0
    )
    if available_at is not None:
        query = query.where(
            LedgerEntry.available_from <= available_at,
            (LedgerEntry.expires_at.is_(None)) | (LedgerEntry.expires_at > available_at),
        )
    if ids is not None:
        query = query.where(LedgerEntry.id.in_(ids))
    rows = db.session.execute(query.order_by(LedgerEntry.available_from, LedgerEntry.id)).all()
    return [OpenCredit(entry, int(left)) for entry, left in rows if left > 0]


def outstanding_debt(customer_id: int) -> int:
    """Points the shopper still owes from clawbacks that found too few points."""
    total = db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.debt_points), 0)).where(
            LedgerEntry.customer_id == customer_id
        )
    )
    return int(total or 0)


def book_credit(
    customer_id: int,
    kind: str,
    points: int,
    source_key: str,
    *,
    available_from: datetime,
    **fields: Any,
) -> LedgerEntry | None:
    """Add a credit once per `source_key` (None if it exists) and pay any debt out of it first.

    The caller holds `lock_points(customer_id)`.
    """
    if entry_exists(source_key):
        return None
    now = clock.now()
    entry = LedgerEntry(
        customer_id=customer_id,
        kind=kind,
        points=points,
        source_key=source_key,
        created_at=now,
        available_from=available_from,
        expires_at=fields.pop("expires_at", expiry_for(available_from)),
        debt_points=0,
        **fields,
    )
    db.session.add(entry)
    db.session.flush()
    debt = outstanding_debt(customer_id)
    if debt > 0 and points > 0:
        recovered = min(debt, points)
        book_debit(
            customer_id,
            "clawback",
            recovered,
            f"debt:{entry.id}",
            [OpenCredit(entry, points)],
            debt_points=-recovered,
            order_id=entry.order_id,
        )
    return entry


def book_debit(
    customer_id: int,
    kind: str,
    points: int,
    source_key: str,
    credits: Sequence[OpenCredit],
    *,
    debt_points: int = 0,
    **fields: Any,
) -> LedgerEntry:
    """Take `points` from `credits` in the order given (they must hold enough) as one debit entry.

    The caller holds `lock_points(customer_id)` and has checked the credits' remaining points under it.
    """
    now = clock.now()
    entry = LedgerEntry(
        customer_id=customer_id,
        kind=kind,
        points=-points,
        source_key=source_key,
        created_at=now,
        available_from=now,
        debt_points=debt_points,
        **fields,
    )
    db.session.add(entry)
    db.session.flush()
    left = points
    for credit in credits:
        if left <= 0:
            break
        taken = min(left, credit.remaining)
        if taken > 0:
            db.session.add(Allocation(debit_id=entry.id, credit_id=credit.entry.id, points=taken))
            left -= taken
    if left > 0:
        raise RuntimeError(f"debit {source_key} found {points - left} of {points} points")
    db.session.flush()
    return entry


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    # Available points that expire within the reminder period, and the first such date.
    expiring_soon: int
    next_expiry: datetime | None


def balance_of(customer_id: int, *, at: datetime | None = None, soon_days: int = 30) -> Balance:
    """Available and pending points (one statement, whatever the length of the history)."""
    at = at or clock.now()
    soon = at + timedelta(days=soon_days)
    remaining = _remaining_column()
    lots = (
        select(LedgerEntry.available_from, LedgerEntry.expires_at, remaining)
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.points > 0)
        .subquery()
    )
    spendable = and_(
        lots.c.available_from <= at,
        (lots.c.expires_at.is_(None)) | (lots.c.expires_at > at),
        lots.c.remaining > 0,
    )
    expiring = and_(spendable, lots.c.expires_at <= soon)
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((spendable, lots.c.remaining), else_=0)), 0),
            func.coalesce(func.sum(case((lots.c.available_from > at, lots.c.remaining), else_=0)), 0),
            func.coalesce(func.sum(case((expiring, lots.c.remaining), else_=0)), 0),
            type_coerce(func.min(case((expiring, lots.c.expires_at), else_=None)), UTCDateTime()),
        )
    ).one()
    return Balance(int(row[0]), int(row[1]), int(row[2]), row[3])
