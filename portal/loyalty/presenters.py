"""What the loyalty page and the order page show, as plain values, in a fixed number of statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import case, func, select, type_coerce

from portal import clock, shop_settings
from portal.db import UTCDateTime
from portal.extensions import db
from portal.i18n import format_number
from portal.loyalty import tiers
from portal.loyalty.ledger import Balance, balance_of
from portal.loyalty.models import LedgerEntry, LoyaltyProfile
from portal.loyalty.service import line_points
from portal.loyalty.spending import FALLBACK_CURRENCY, RedemptionOption, redemption_options
from portal.orders.models import Order, OrderItem

HISTORY_PAGE = 20


@dataclass(frozen=True)
class HistoryRow:
    id: int
    at: datetime
    kind: str
    points: int
    title: str
    detail: str | None
    pending_until: datetime | None


@dataclass(frozen=True)
class TierProgress:
    name: str
    multiplier: Decimal
    spend: Decimal
    next_name: str | None
    to_next: Decimal | None
    percent: int


@dataclass(frozen=True)
class LoyaltyView:
    balance: Balance
    lifetime: int
    debt: int
    tier: TierProgress
    currency: str
    history: list[HistoryRow]
    older_than: int | None
    options: list[RedemptionOption]
    birthday: date | None
    levels: list[tiers.Tier]
    points_per_unit: int
    survey_bonus: int
    first_order_bonus: int
    birthday_bonus: int
    return_window_days: int
    expiry_months: int


def _totals(customer_id: int, at: datetime) -> tuple[int, int, Decimal, str | None]:
    """(lifetime points earned, points owed, qualifying spend, currency) in one statement."""
    counted = (LedgerEntry.spend_at > tiers.window_start(at)) & (LedgerEntry.spend_at <= at)
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((LedgerEntry.points > 0, LedgerEntry.points), else_=0)), 0),
            func.coalesce(func.sum(LedgerEntry.debt_points), 0),
            func.coalesce(func.sum(case((counted, LedgerEntry.spend), else_=0)), 0),
            func.max(LedgerEntry.currency),
        ).where(LedgerEntry.customer_id == customer_id)
    ).one()
    return int(row[0]), int(row[1]), max(Decimal(0), Decimal(str(row[2]))), row[3]


def tier_progress(spend: Decimal) -> TierProgress:
    tier = tiers.tier_for(spend)
    upcoming = tiers.next_tier(tier)
    if upcoming is None:
        return TierProgress(tier.name, tier.multiplier, spend, None, None, 100)
    span = upcoming.min_spend - tier.min_spend
    done = spend - tier.min_spend
    percent = int(max(0, min(100, (done * 100 / span) if span > 0 else 100)))
    return TierProgress(tier.name, tier.multiplier, spend, upcoming.name, upcoming.min_spend - spend, percent)


def history(customer_id: int, older_than: int | None = None, limit: int = HISTORY_PAGE) -> list[HistoryRow]:
    """The newest `limit` entries (before entry `older_than`), described for the shopper: one statement."""
    query = (
        select(LedgerEntry, Order.number, OrderItem.name)
        .outerjoin(Order, Order.id == LedgerEntry.order_id)
        .outerjoin(OrderItem, OrderItem.id == LedgerEntry.order_item_id)
        .where(LedgerEntry.customer_id == customer_id)
        .where((LedgerEntry.points != 0) | (LedgerEntry.debt_points != 0))
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    if older_than is not None:
        query = query.where(LedgerEntry.id < older_than)
    now = clock.now()
    return [_describe(entry, number, name, now) for entry, number, name in db.session.execute(query)]


def _describe(entry: LedgerEntry, number: str | None, item: str | None, now: datetime) -> HistoryRow:
    key = entry.source_key
    detail: str | None = None
    pending_until = entry.available_from if entry.points > 0 and entry.available_from > now else None
    if entry.kind == "earn":
        title = _(
            "%(quantity)s × %(item)s, order %(number)s",
            quantity=entry.quantity,
            item=item or "?",
            number=number or "?",
        )
    elif entry.kind == "bonus" and key.startswith("first-order:"):
        title = _("Bonus for your first order %(number)s", number=number or "")
    elif entry.kind == "bonus" and key.startswith("survey:"):
        title = _("Thank you for answering our survey about order %(number)s", number=number or "")
    elif entry.kind == "bonus" and key.startswith("birthday:"):
        title = _("Happy birthday!")
    elif entry.kind == "redeem":
        title = _("Store credit code ending %(hint)s", hint=entry.reference or "")
    elif entry.kind == "expire":
        title = _(
            "Points expired (not used within %(months)s months)",
            months=shop_settings.get("LOYALTY_EXPIRY_MONTHS"),
        )
    elif entry.kind == "adjust":
        title = _("Adjusted by the shop")
        detail = entry.note
    elif key.startswith("debt:"):
        title = _("Taken towards points still owed after a return")
    else:
        title = _(
            "Returned %(quantity)s × %(item)s (return %(reference)s)",
            quantity=entry.quantity or 0,
            item=item or "?",
            reference=entry.reference or "",
        )
        detail = _("Points earned on returned items are taken back.")
        if entry.debt_points > 0:
            detail = _(
                "Points earned on returned items are taken back. %(owed)s of them had been spent already: "
                "they will come out of your next points.",
                owed=format_number(entry.debt_points),
            )
    if entry.kind == "bonus" and entry.note:
        detail = entry.note
    # An order's points date from its delivery, whenever the carrier's scan reached us.
    at = entry.spend_at if entry.kind == "earn" and entry.spend_at is not None else entry.created_at
    return HistoryRow(entry.id, at, entry.kind, entry.points, title, detail, pending_until)


def present_loyalty(customer_id: int, older_than: int | None = None) -> LoyaltyView:
    """Everything the loyalty page shows (five statements whatever the length of the history)."""
    now = clock.now()
    lifetime, debt, spend, currency = _totals(customer_id, now)
    rows = history(customer_id, older_than, HISTORY_PAGE + 1)
    more = len(rows) > HISTORY_PAGE
    rows = rows[:HISTORY_PAGE]
    birthday = db.session.scalar(select(LoyaltyProfile.birthday).where(LoyaltyProfile.user_id == customer_id))
    return LoyaltyView(
        balance=balance_of(customer_id, at=now),
        lifetime=lifetime,
        debt=max(0, debt),
        tier=tier_progress(spend),
        currency=currency or FALLBACK_CURRENCY,
        history=rows,
        older_than=rows[-1].id if more and rows else None,
        options=redemption_options(),
        birthday=birthday,
        levels=tiers.tiers(),
        points_per_unit=int(shop_settings.get("LOYALTY_POINTS_PER_UNIT")),
        survey_bonus=int(shop_settings.get("LOYALTY_SURVEY_BONUS")),
        first_order_bonus=int(shop_settings.get("LOYALTY_FIRST_ORDER_BONUS")),
        birthday_bonus=int(shop_settings.get("LOYALTY_BIRTHDAY_BONUS")),
        return_window_days=int(shop_settings.get("RETURN_WINDOW_DAYS")),
        expiry_months=int(shop_settings.get("LOYALTY_EXPIRY_MONTHS")),
    )


# --- the order page -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderPoints:
    earned: int
    taken_back: int
    pending_until: datetime | None
    estimate: int


def order_points(order: Order) -> OrderPoints | None:
    """The points an order earned (and what its returns took back), or would earn once delivered: at most
    one statement (the order's items and shipments are loaded already). None for a guest order."""
    if order.customer_id is None:
        return None
    estimate = 0
    if order.status != "cancelled":
        estimate = sum(line_points(item.unit_price * item.quantity, Decimal(1)) for item in order.items)
    # Points come with a delivery: an order none of whose parcels arrived has none (and needs no query).
    if not any(s.delivered_at is not None or s.status == "returned_to_sender" for s in order.shipments):
        return OrderPoints(0, 0, None, estimate)
    now = clock.now()
    credit = LedgerEntry.points > 0
    returned = (LedgerEntry.kind == "clawback") & LedgerEntry.source_key.like("clawback:%")
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((credit, LedgerEntry.points), else_=0)), 0),
            func.coalesce(
                func.sum(case((returned, LedgerEntry.debt_points - LedgerEntry.points), else_=0)), 0
            ),
            type_coerce(
                func.max(case((credit & (LedgerEntry.available_from > now), LedgerEntry.available_from))),
                UTCDateTime(),
            ),
        ).where(LedgerEntry.order_id == order.id, LedgerEntry.customer_id == order.customer_id)
    ).one()
    return OrderPoints(int(row[0]), int(row[1]), row[2], estimate)
