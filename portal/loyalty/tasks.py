"""The loyalty area's periodic work: expire points, remind shoppers 30 days before, birthday bonuses, tiers
that age out. The worker queues `loyalty_periodic_job` (fixed id) at most once an hour; it is safe to run
twice (every entry it writes has a source key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.loyalty import tiers
from portal.loyalty.ledger import book_debit, lock_points, open_credits
from portal.loyalty.models import Allocation, LedgerEntry, LoyaltyProfile
from portal.loyalty.service import award_birthday_bonuses, award_shipment_points

JOB_ID = "loyalty-periodic"
_THROTTLE_KEY = "portal.loyalty.periodic"
JOB_INTERVAL = timedelta(hours=1)
REMINDER_DAYS = 30
REMINDER_STEP = "points_expiring"


def _credits_with_points_left(where: list[object]) -> list[tuple[int, int, int, datetime | None]]:
    """(credit id, customer id, points left, expires at) of credits matching `where`, oldest first."""
    used = (
        select(Allocation.credit_id, func.sum(Allocation.points).label("used"))
        .join(LedgerEntry, LedgerEntry.id == Allocation.credit_id)
        .where(*where)  # type: ignore[arg-type]
        .group_by(Allocation.credit_id)
        .subquery()
    )
    remaining = LedgerEntry.points - func.coalesce(used.c.used, 0)
    rows = db.session.execute(
        select(LedgerEntry.id, LedgerEntry.customer_id, remaining, LedgerEntry.expires_at)
        .outerjoin(used, used.c.credit_id == LedgerEntry.id)
        .where(LedgerEntry.points > 0, remaining > 0, *where)  # type: ignore[arg-type]
        .order_by(LedgerEntry.expires_at, LedgerEntry.id)
    ).all()
    return [(int(a), int(b), int(c), d) for a, b, c, d in rows]


def expire_points(at: datetime | None = None) -> int:
    """Write an `expire` entry for what is left of every credit past its expiry date; return how many."""
    at = at or clock.now()
    due = _credits_with_points_left([LedgerEntry.expires_at <= at])
    expired = 0
    for credit_id, customer_id, _, _ in due:
        key = f"expire:{credit_id}"
        lock_points(customer_id)
        # Re-read under the lock: a redemption may have spent the points meanwhile.
        left = open_credits(customer_id, ids=[credit_id])
        if not left or db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.source_key == key)):
            continue
        book_debit(customer_id, "expire", left[0].remaining, key, left)
        expired += 1
    return expired


@dataclass(frozen=True)
class Reminder:
    customer_id: int
    points: int
    expires_at: datetime
    order_id: int | None


def due_reminders(at: datetime | None = None) -> list[Reminder]:
    """Shoppers with available points expiring within REMINDER_DAYS not covered by an earlier reminder."""
    at = at or clock.now()
    horizon = at + timedelta(days=REMINDER_DAYS)
    rows = _credits_with_points_left(
        [LedgerEntry.expires_at > at, LedgerEntry.expires_at <= horizon, LedgerEntry.available_from <= at]
    )
    if not rows:
        return []
    reminded = dict(
        db.session.execute(
            select(LoyaltyProfile.user_id, LoyaltyProfile.reminded_expiry_at).where(
                LoyaltyProfile.user_id.in_({customer for _, customer, _, _ in rows})
            )
        ).all()
    )
    orders = dict(
        db.session.execute(
            select(LedgerEntry.id, LedgerEntry.order_id).where(LedgerEntry.id.in_([r[0] for r in rows]))
        ).all()
    )
    by_customer: dict[int, list[tuple[int, int, datetime]]] = {}
    for credit_id, customer_id, left, expires_at in rows:
        if expires_at is None:
            continue
        covered = reminded.get(customer_id)
        if covered is not None and expires_at <= covered:
            continue
        by_customer.setdefault(customer_id, []).append((credit_id, left, expires_at))
    reminders = []
    for customer_id, credits in sorted(by_customer.items()):
        order_id = next((orders[c] for c, _, _ in credits if orders.get(c)), None)
        reminders.append(
            Reminder(
                customer_id, sum(left for _, left, _ in credits), min(e for _, _, e in credits), order_id
            )
        )
    return reminders


def remind_expiring_points(at: datetime | None = None) -> int:
    """Schedule one `points_expiring` message per shopper for the points expiring in the next 30 days.

    Messages belong to an order: the one the points came from, else the shopper's latest. A shopper with no
    order gets no message (their loyalty page still shows what expires). Returns how many were scheduled.
    """
    from portal.messaging.sequence import STEPS
    from portal.messaging.service import schedule_message
    from portal.orders.models import Order

    at = at or clock.now()
    if REMINDER_STEP not in STEPS:
        return 0
    horizon = at + timedelta(days=REMINDER_DAYS)
    scheduled = 0
    for reminder in due_reminders(at):
        profile = lock_points(reminder.customer_id)
        order = db.session.get(Order, reminder.order_id) if reminder.order_id else None
        if order is None or order.customer_id != reminder.customer_id:
            order = db.session.scalar(
                select(Order)
                .where(Order.customer_id == reminder.customer_id)
                .order_by(Order.placed_at.desc(), Order.id.desc())
                .limit(1)
            )
        profile.reminded_expiry_at = horizon
        if order is None:
            continue
        schedule_message(
            order,
            REMINDER_STEP,
            key=f"pts-{reminder.expires_at.date().isoformat()}",
            context={"points": reminder.points, "expires_at": reminder.expires_at.isoformat()},
        )
        scheduled += 1
    db.session.flush()
    return scheduled


def age_out_tiers() -> int:
    """Recompute the tier of everyone above the lowest (spend older than 12 months stops counting)."""
    return sum(
        1 for customer in tiers.customers_above_lowest_tier() if tiers.recompute_tier(customer, "aged_out")
    )


def award_claimed_orders(at: datetime | None = None) -> int:
    """Award the points of orders that joined an account after their delivery (a guest who then registered
    with the order's address), for deliveries in the last 12 months. Returns how many shipments earned."""
    from portal.orders.models import Order, Shipment

    at = at or clock.now()
    earned = (
        select(LedgerEntry.id).where(LedgerEntry.order_id == Order.id, LedgerEntry.kind == "earn").exists()
    )
    missed = db.session.scalars(
        select(Shipment)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Order.customer_id.is_not(None),
            Order.status != "cancelled",
            Shipment.delivered_at.is_not(None),
            Shipment.delivered_at > tiers.window_start(at),
            ~earned,
        )
        .order_by(Shipment.delivered_at, Shipment.id)
    ).all()
    return sum(1 for shipment in missed if award_shipment_points(shipment))


def run_periodic(at: datetime | None = None) -> dict[str, int]:
    """Everything due now, in one transaction the caller commits."""
    at = at or clock.now()
    return {
        "claimed": award_claimed_orders(at),
        "expired": expire_points(at),
        "birthdays": award_birthday_bonuses(at),
        "tier_moves": age_out_tiers(),
        "reminders": remind_expiring_points(at),
    }


def loyalty_periodic_job() -> str:
    """RQ job: the periodic work, committed."""
    summary = run_periodic()
    db.session.commit()
    return str(summary)


def queue_loyalty_periodic() -> bool:
    """Queue the periodic job (fixed id) at most once an hour, however many workers call this every minute."""
    from portal.queue import PendingJob, enqueue_now, redis_connection

    if not redis_connection().set(
        _THROTTLE_KEY, clock.now().isoformat(), nx=True, ex=int(JOB_INTERVAL.total_seconds())
    ):
        return False
    return enqueue_now(PendingJob(loyalty_periodic_job, (), JOB_ID, queue="default"))
