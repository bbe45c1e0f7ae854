"""The loyalty area's tables: the append-only points ledger, what each debit took from which credit, tier
moves, store-credit redemptions and the shopper's loyalty profile (birthday; also the row locked while
spending).

Balances, lifetime points and the tier are derived from these rows; nothing here is a counter edited in place.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.db import UTCDateTime
from portal.extensions import db
from portal.orders.models import Money

# Credits (positive points): earn (a delivered line), bonus (first order, survey, birthday), adjust (staff).
# Debits (negative points): redeem, expire, clawback (returned lines, or a debt recovered), adjust (staff).
ENTRY_KINDS = ("earn", "bonus", "redeem", "expire", "adjust", "clawback")


class LoyaltyProfile(db.Model):  # type: ignore[name-defined]
    """One row per shopper in the programme: their birthday, and the row locked while their points change."""

    __tablename__ = "loyalty_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    birthday: Mapped[date | None] = mapped_column(Date)
    birthday_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Written at the start of every change of the shopper's points: on SQLite this write takes the database's
    # write lock before the balance is read (PostgreSQL uses SELECT … FOR UPDATE on this row instead).
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last expiry date the shopper was reminded of (one reminder per date).
    reminded_expiry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LedgerEntry(db.Model):  # type: ignore[name-defined]
    """One movement of points. `source_key` is unique: the same event replayed never books twice."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (
        Index("ix_loyalty_entries_customer_created", "customer_id", "created_at", "id"),
        Index("ix_loyalty_entries_order_item", "order_item_id"),
        Index("ix_loyalty_entries_expires", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int]
    source_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    # Credits count as pending before this instant (the return window) and as available after it.
    available_from: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"), index=True)
    order_item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id", ondelete="SET NULL"))
    # Units of the line the entry is about (earned or returned).
    quantity: Mapped[int | None]
    # Qualifying spend the entry adds (earn) or removes (clawback), counted at `spend_at` (the delivery).
    spend: Mapped[Decimal | None] = mapped_column(Money)
    spend_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    currency: Mapped[str | None] = mapped_column(String(3))
    # Points owed (+) when a clawback found too few points, and paid back (-) from a later award.
    debt_points: Mapped[int] = mapped_column(default=0)
    # Staff's reason for an adjustment, or the shop's words for a bonus.
    note: Mapped[str | None] = mapped_column(String(500))
    # What the shopper recognises the cause by: the return's RMA, the redemption code's last characters.
    reference: Mapped[str | None] = mapped_column(String(64))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def is_credit(self) -> bool:
        return self.points > 0

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.id} {self.kind} {self.points:+d}>"


class Allocation(db.Model):  # type: ignore[name-defined]
    """How many points a debit took from one credit (oldest credits are spent first)."""

    __tablename__ = "loyalty_allocations"
    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    debit_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id", ondelete="CASCADE"), index=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id", ondelete="CASCADE"), index=True)
    points: Mapped[int]


class TierChange(db.Model):  # type: ignore[name-defined]
    """The shopper moved from one tier to another (the latest row is their recorded tier)."""

    __tablename__ = "loyalty_tier_changes"
    __table_args__ = (Index("ix_loyalty_tier_changes_customer_at", "customer_id", "at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    previous_tier: Mapped[str | None] = mapped_column(String(40))
    tier: Mapped[str] = mapped_column(String(40))
    qualifying_spend: Mapped[Decimal] = mapped_column(Money)
    # delivered | returned | aged_out | adjusted
    reason: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)


class Redemption(db.Model):  # type: ignore[name-defined]
    """Points traded for a store-credit code. Only the code's hash is kept: the shopper sees the code once."""

    __tablename__ = "loyalty_redemptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("loyalty_entries.id", ondelete="CASCADE"), unique=True)
    points: Mapped[int]
    value: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hint: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
