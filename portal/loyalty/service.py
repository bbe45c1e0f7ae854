"""Earning and losing points: delivered lines, bonuses (first order, survey, birthday) and fair clawback.

Every award has a source key (the shipment and line, the invitation, the year), so an event replayed books
nothing new. Receivers call these inside the sender's transaction; they flush and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import clock, shop_settings
from portal.errors import Invalid, NotFound
from portal.extensions import db
from portal.loyalty import tiers
from portal.loyalty.ledger import book_credit, book_debit, entry_exists, lock_points, open_credits
from portal.loyalty.models import LedgerEntry, LoyaltyProfile
from portal.orders.models import OrderItem, Shipment, ShipmentItem

# A birthday set (or changed) less than this long before the day earns nothing that year.
BIRTHDAY_NOTICE = timedelta(days=30)
# The daily job may run late: a birthday up to this many days ago still gets its bonus.
BIRTHDAY_GRACE_DAYS = 7


def return_window_end(delivered_at: datetime) -> datetime:
    """When points earned on a delivery stop being pending: the return window has closed."""
    return delivered_at + timedelta(days=int(shop_settings.get("RETURN_WINDOW_DAYS")))


def line_points(amount: Decimal, multiplier: Decimal) -> int:
    """Points for spending `amount` on one line: LOYALTY_POINTS_PER_UNIT per unit of currency, times the
    tier's multiplier, rounded down."""
    per_unit = Decimal(str(shop_settings.get("LOYALTY_POINTS_PER_UNIT")))
    return int((amount * per_unit * multiplier).to_integral_value(rounding=ROUND_FLOOR))


# --- delivered orders ---------------------------------------------------------------------------------------


def award_shipment_points(shipment: Shipment) -> list[LedgerEntry]:
    """Award the points of every line a delivered shipment carried, once per (shipment, line).

    Unit prices are what the customer paid for the line (after discounts). Points are pending until the
    return window after the delivery closes, at the rate of the shopper's tier before this delivery. The
    shopper's first delivered order also brings LOYALTY_FIRST_ORDER_BONUS. Guests' orders earn nothing.
    """
    order = shipment.order
    if order.customer_id is None or order.status == "cancelled":
        return []
    customer_id = order.customer_id
    delivered_at = shipment.delivered_at or clock.now()
    lines = db.session.execute(
        select(ShipmentItem.quantity, OrderItem)
        .join(OrderItem, OrderItem.id == ShipmentItem.order_item_id)
        .where(ShipmentItem.shipment_id == shipment.id)
        .order_by(OrderItem.position, OrderItem.id)
    ).all()
    if not lines:
        return []
    lock_points(customer_id)
    multiplier = tiers.tier_for(tiers.qualifying_spend(customer_id)).multiplier
    available_from = return_window_end(delivered_at)
    awarded: list[LedgerEntry] = []
    for quantity, item in lines:
        amount = (item.unit_price * quantity).quantize(Decimal("0.001"))
        entry = book_credit(
            customer_id,
            "earn",
            line_points(amount, multiplier),
            f"earn:shipment-{shipment.id}:item-{item.id}",
            available_from=available_from,
            order_id=order.id,
            order_item_id=item.id,
            quantity=quantity,
            spend=amount,
            spend_at=delivered_at,
            currency=order.currency,
        )
        if entry is not None:
            awarded.append(entry)
    bonus = int(shop_settings.get("LOYALTY_FIRST_ORDER_BONUS"))
    if awarded and bonus > 0:
        entry = book_credit(
            customer_id,
            "bonus",
            bonus,
            f"first-order:{customer_id}",
            available_from=available_from,
            order_id=order.id,
        )
        if entry is not None:
            awarded.append(entry)
    if awarded:
        tiers.recompute_tier(customer_id, "delivered")
    return awarded


# --- returns ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Earned:
    customer_id: int
    order_id: int | None
    credit_ids: list[int]
    quantity: int
    points: int
    spend: Decimal
    spend_at: datetime | None
    currency: str | None


def _earned_by_item(item_ids: Iterable[int]) -> dict[int, _Earned]:
    earned: dict[int, _Earned] = {}
    for entry in db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.kind == "earn", LedgerEntry.order_item_id.in_(list(item_ids)))
        .order_by(LedgerEntry.id)
    ):
        assert entry.order_item_id is not None
        seen = earned.get(entry.order_item_id)
        earned[entry.order_item_id] = _Earned(
            customer_id=entry.customer_id,
            order_id=entry.order_id,
            credit_ids=[*(seen.credit_ids if seen else []), entry.id],
            quantity=(seen.quantity if seen else 0) + (entry.quantity or 0),
            points=(seen.points if seen else 0) + entry.points,
            spend=(seen.spend if seen else Decimal(0)) + (entry.spend or Decimal(0)),
            spend_at=seen.spend_at if seen else entry.spend_at,
            currency=entry.currency,
        )
    return earned


def _clawed_quantities(item_ids: Iterable[int]) -> dict[int, int]:
    clawed: dict[int, int] = {}
    for item_id, quantity in db.session.execute(
        select(LedgerEntry.order_item_id, LedgerEntry.quantity).where(
            LedgerEntry.kind == "clawback",
            LedgerEntry.order_item_id.in_(list(item_ids)),
            LedgerEntry.source_key.like("clawback:%"),
        )
    ):
        if item_id is not None:
            clawed[item_id] = clawed.get(item_id, 0) + (quantity or 0)
    return clawed


def claw_back_returned_lines(
    return_key: str, reference: str, lines: Sequence[tuple[int, int]]
) -> list[LedgerEntry]:
    """Remove the points earned on exactly the returned units of these order lines, once per return and line.

    Pending points of the line are cancelled first; what was already spent is deducted from other available
    points, oldest first; what cannot be found is recorded as debt and taken from the next award, so the
    balance never goes below zero. The spend leaves the tier's 12 months too. `reference` (the RMA) tells the
    shopper why.
    """
    quantities: dict[int, int] = {}
    for item_id, quantity in lines:
        if quantity > 0:
            quantities[int(item_id)] = quantities.get(int(item_id), 0) + int(quantity)
    earned = _earned_by_item(quantities)
    if not earned:
        return []
    clawed = _clawed_quantities(earned)
    entries: list[LedgerEntry] = []
    customers: set[int] = set()
    now = clock.now()
    for item_id, returned in sorted(quantities.items()):
        line = earned.get(item_id)
        key = f"clawback:{return_key}:item-{item_id}"
        if line is None or line.quantity <= 0 or entry_exists(key):
            continue
        before = clawed.get(item_id, 0)
        units = min(returned, line.quantity - before)
        if units <= 0:
            continue
        lock_points(line.customer_id)
        # Proportional per unit, rounded so that returning every unit takes back exactly what was earned.
        owed = line.points * (before + units) // line.quantity - line.points * before // line.quantity
        spend = (
            line.spend * (before + units) / line.quantity - line.spend * before / line.quantity
        ).quantize(Decimal("0.001"))
        own = open_credits(line.customer_id, ids=line.credit_ids)
        own_ids = {credit.entry.id for credit in own}
        others = [c for c in open_credits(line.customer_id, available_at=now) if c.entry.id not in own_ids]
        sources = own + others
        taken = min(owed, sum(credit.remaining for credit in sources))
        entries.append(
            book_debit(
                line.customer_id,
                "clawback",
                taken,
                key,
                sources,
                debt_points=owed - taken,
                order_id=line.order_id,
                order_item_id=item_id,
                quantity=units,
                spend=-spend,
                spend_at=line.spend_at,
                currency=line.currency,
                reference=reference[:64],
            )
        )
        clawed[item_id] = before + units
        customers.add(line.customer_id)
    for customer_id in sorted(customers):
        tiers.recompute_tier(customer_id, "returned")
    return entries


# --- bonuses ------------------------------------------------------------------------------------------------


def award_survey_bonus(
    invitation_id: int, order_id: int | None, customer_id: int | None
) -> LedgerEntry | None:
    """LOYALTY_SURVEY_BONUS for an answered survey, once per invitation; guests (no customer) get nothing."""
    points = int(shop_settings.get("LOYALTY_SURVEY_BONUS"))
    if customer_id is None or points <= 0:
        return None
    lock_points(customer_id)
    return book_credit(
        customer_id, "bonus", points, f"survey:{invitation_id}", available_from=clock.now(), order_id=order_id
    )


def birthday_in(year: int, birthday: date) -> date:
    """The day the birthday is celebrated in `year` (29 February becomes the 28th in other years)."""
    if birthday.month == 2 and birthday.day == 29:
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return birthday.replace(year=year)


def award_birthday_bonuses(at: datetime | None = None) -> int:
    """Give LOYALTY_BIRTHDAY_BONUS to shoppers whose birthday is today (or was in the last few days, if the
    job ran late), once a year, if they set the birthday more than 30 days before it. Returns how many."""
    at = at or clock.now()
    points = int(shop_settings.get("LOYALTY_BIRTHDAY_BONUS"))
    if points <= 0:
        return 0
    today = at.date()
    awarded = 0
    profiles = db.session.scalars(
        select(LoyaltyProfile).where(
            LoyaltyProfile.birthday.is_not(None), LoyaltyProfile.birthday_set_at <= at - BIRTHDAY_NOTICE
        )
    ).all()
    for profile in profiles:
        assert profile.birthday is not None and profile.birthday_set_at is not None
        for year in (today.year, today.year - 1):
            day = birthday_in(year, profile.birthday)
            starts = datetime.combine(day, datetime.min.time(), tzinfo=at.tzinfo)
            if not (day <= today <= day + timedelta(days=BIRTHDAY_GRACE_DAYS)):
                continue
            if profile.birthday_set_at > starts - BIRTHDAY_NOTICE:
                continue
            key = f"birthday:{profile.user_id}:{year}"
            if entry_exists(key):
                continue
            lock_points(profile.user_id)
            if book_credit(profile.user_id, "bonus", points, key, available_from=at) is not None:
                awarded += 1
    return awarded


def set_birthday(customer_id: int, birthday: date | None) -> LoyaltyProfile:
    """Set or clear the shopper's birthday. Changing it restarts the 30 days' notice. Raises Invalid for a
    date in the future or more than 120 years ago, NotFound for an unknown shopper."""
    from portal.accounts.models import User

    user = db.session.get(User, customer_id)
    if user is None or user.role != "shopper":
        raise NotFound(str(_l("No such shopper.")))
    today = clock.now().date()
    if birthday is not None and not (date(today.year - 120, 1, 1) <= birthday <= today):
        message = str(_l("Enter a real date of birth."))
        raise Invalid(message, fields={"birthday": message})
    profile = lock_points(customer_id)
    if profile.birthday != birthday:
        profile.birthday = birthday
        profile.birthday_set_at = clock.now() if birthday is not None else None
    db.session.flush()
    return profile
