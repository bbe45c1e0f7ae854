"""Spending points: redemption for a store-credit code, and staff adjustments (always with a reason, audited).

Both check the available balance while holding the shopper's points lock, so two at once never overspend.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from portal import audit, clock, shop_settings
from portal.accounts.models import User
from portal.audit import Actor
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.i18n import format_number
from portal.loyalty.ledger import balance_of, book_credit, book_debit, lock_points, open_credits
from portal.loyalty.models import LedgerEntry, Redemption
from portal.webhooks.service import queue_webhook

FALLBACK_CURRENCY = "EUR"
MAX_ADJUSTMENT = 1_000_000
MAX_REASON_LENGTH = 500
# Unambiguous letters and digits (no 0/O, 1/I/L): the code is read off a screen and typed at a checkout.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class RedemptionOption:
    points: int
    value: Decimal


def redemption_options() -> list[RedemptionOption]:
    """What points can be traded for (LOYALTY_REDEMPTIONS), cheapest first."""
    options = [
        RedemptionOption(int(o["points"]), Decimal(str(o["value"])))
        for o in shop_settings.get("LOYALTY_REDEMPTIONS") or []
        if int(o["points"]) > 0
    ]
    return sorted(options, key=lambda option: option.points)


def currency_of(customer_id: int) -> str:
    """The currency the shopper buys in (that of their latest earned line)."""
    currency = db.session.scalar(
        select(LedgerEntry.currency)
        .where(LedgerEntry.customer_id == customer_id, LedgerEntry.currency.is_not(None))
        .order_by(LedgerEntry.id.desc())
        .limit(1)
    )
    return currency or FALLBACK_CURRENCY


def hash_code(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def _new_code() -> str:
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"PTS-{body[:4]}-{body[4:8]}-{body[8:]}"


@dataclass(frozen=True)
class RedeemedCode:
    redemption: Redemption
    code: str


def redeem_points(customer_id: int, points: int, actor: Actor) -> RedeemedCode:
    """Trade `points` (one of the redemption options) for a store-credit code, oldest points spent first.

    The code is returned once (only its hash is kept) and sent to the shop in a `loyalty.redeemed` webhook.
    Raises Invalid for a points value that is not an option, Conflict when the available balance is short,
    NotFound for an unknown shopper.
    """
    option = next((o for o in redemption_options() if o.points == points), None)
    if option is None:
        raise Invalid(
            str(_l("Choose one of the rewards offered.")),
            fields={"points": str(_l("Choose one of the rewards offered."))},
        )
    customer = db.session.get(User, customer_id)
    if customer is None or customer.role != "shopper":
        raise NotFound(str(_l("No such shopper.")))
    lock_points(customer_id)
    now = clock.now()
    credits = open_credits(customer_id, available_at=now)
    available = sum(credit.remaining for credit in credits)
    if available < option.points:
        raise Conflict(
            str(
                _l(
                    "You have %(available)s points available; this reward needs %(points)s.",
                    available=format_number(available),
                    points=format_number(option.points),
                )
            ),
            code="not_enough_points",
        )
    code = _new_code()
    currency = currency_of(customer_id)
    entry = book_debit(
        customer_id, "redeem", option.points, f"redeem:{uuid.uuid4().hex}", credits, reference=code[-4:]
    )
    redemption = Redemption(
        customer_id=customer_id,
        entry_id=entry.id,
        points=option.points,
        value=option.value,
        currency=currency,
        code_hash=hash_code(code),
        code_hint=code[-4:],
        created_at=now,
    )
    db.session.add(redemption)
    db.session.flush()
    queue_webhook(
        "loyalty.redeemed",
        {
            "redemption_id": redemption.id,
            "code": code,
            "value": f"{option.value:.2f}",
            "currency": currency,
            "points": option.points,
            "customer": {"id": customer.id, "email": customer.email, "name": customer.name},
            "redeemed_at": now.isoformat(),
        },
    )
    audit.record(
        actor,
        "loyalty.redeemed",
        "customer",
        customer_id,
        before={"available": available},
        after={"available": available - option.points, "redemption_id": redemption.id},
    )
    return RedeemedCode(redemption, code)


def mark_code_used(code: str, actor: Actor) -> Redemption:
    """The shop reports a store-credit code as used. Raises NotFound for an unknown code, Conflict if used."""
    redemption = db.session.scalar(
        select(Redemption).where(Redemption.code_hash == hash_code(code)).with_for_update()
    )
    if redemption is None:
        raise NotFound(str(_l("No such code.")), code="unknown_code")
    if redemption.used_at is not None:
        raise Conflict(str(_l("This code has been used already.")), code="code_used")
    redemption.used_at = clock.now()
    audit.record(
        actor,
        "loyalty.code_used",
        "redemption",
        redemption.id,
        after={"used_at": redemption.used_at.isoformat()},
    )
    db.session.flush()
    return redemption


def adjust_points(customer_id: int, points: int, *, reason: str, actor: Actor) -> LedgerEntry:
    """Staff add (points > 0) or remove (points < 0) points, with a reason the shopper sees; audited.

    Added points are available at once and expire like any others; removed points come from the available
    balance, oldest first. Raises Invalid (no reason, zero or absurd points, more than available),
    NotFound for an unknown shopper.
    """
    reason = (reason or "").strip()
    problems: dict[str, str] = {}
    if not reason:
        problems["reason"] = str(_l("Give a reason: the customer sees it."))
    elif any(ord(character) < 32 and character not in "\n\t" for character in reason):
        problems["reason"] = str(_l("The reason holds a character that cannot be stored; type it again."))
    elif len(reason) > MAX_REASON_LENGTH:
        problems["reason"] = str(_l("Keep the reason under %(max)s characters.", max=MAX_REASON_LENGTH))
    if not isinstance(points, int) or isinstance(points, bool) or points == 0 or abs(points) > MAX_ADJUSTMENT:
        problems["points"] = str(
            _l(
                "Enter a whole number of points between -%(max)s and %(max)s, not 0.",
                max=format_number(MAX_ADJUSTMENT),
            )
        )
    if problems:
        raise Invalid(next(iter(problems.values())), fields=problems)
    customer = db.session.get(User, customer_id)
    if customer is None or customer.role != "shopper":
        raise NotFound(str(_l("No such shopper.")))
    lock_points(customer_id)
    now = clock.now()
    before = balance_of(customer_id, at=now)
    key = f"adjust:{uuid.uuid4().hex}"
    if points > 0:
        entry = book_credit(
            customer_id, "adjust", points, key, available_from=now, note=reason, actor_user_id=actor.user_id
        )
        assert entry is not None
    else:
        credits = open_credits(customer_id, available_at=now)
        available = sum(credit.remaining for credit in credits)
        if -points > available:
            message = str(
                _l(
                    "The customer has only %(available)s points available to remove.",
                    available=format_number(available),
                )
            )
            raise Invalid(message, fields={"points": message})
        entry = book_debit(
            customer_id, "adjust", -points, key, credits, note=reason, actor_user_id=actor.user_id
        )
    after = balance_of(customer_id, at=now)
    audit.record(
        actor,
        "loyalty.adjusted",
        "customer",
        customer_id,
        before={"available": before.available, "pending": before.pending},
        after={"available": after.available, "pending": after.pending, "points": points, "reason": reason},
    )
    return entry
