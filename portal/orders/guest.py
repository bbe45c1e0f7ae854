"""Guest access to one order: look it up by number + e-mail, or receive a single-use link by e-mail.

A miss and a wrong e-mail must be indistinguishable (same answer, same database work), so both raise the
same error after the same query and the same comparison.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta

from rq import Retry
from sqlalchemy import func, select, update

from portal import clock
from portal.accounts.service import normalise_email
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.orders.guest_models import GuestLink
from portal.orders.models import Order
from portal.queue import enqueue_after_commit
from portal.tokens import hash_token, new_token

ORDER_NUMBER_MAX_LENGTH = 64  # Order.number
EMAIL_MAX_LENGTH = 254  # Order.email
TOKEN_MAX_LENGTH = 100  # a token from `new_token` is 43 characters
LINK_JOB_RETRY = Retry(max=3, interval=[30, 120, 600])


def link_job_id(link_id: int) -> str:
    return f"guest-link-{link_id}"


# Compared against on a miss, so a miss costs the same as a wrong e-mail.
_NO_EMAIL = "\x00" * 32


class GuestLookupFailed(NotFound):
    """No order has this number and e-mail address (deliberately not saying which part is wrong)."""

    code = "guest_lookup_failed"


class GuestLinkInvalid(DomainError):
    """The link is unknown, expired or already used (deliberately not saying which)."""

    status = 410
    code = "guest_link_invalid"


@dataclass(frozen=True)
class IssuedLink:
    """A link the job may now e-mail: the secret token exists only here and in the e-mail."""

    link: GuestLink
    token: str


def normalise_order_number(raw: str) -> str:
    """The order number as typed, trimmed and without one leading '#' (case is kept: compare with `upper`)."""
    number = raw.strip()
    if number.startswith("#"):
        number = number[1:].lstrip()
    return number


def order_number_key(raw: str) -> str:
    """The case-insensitive identity of a typed order number (e.g. for rate limits); '' when unusable."""
    number = normalise_order_number(raw)
    if not number or len(number) > ORDER_NUMBER_MAX_LENGTH:
        return ""
    return number.upper()


def look_up_order(order_number: str, email: str) -> Order:
    """The order with this number (any case, optional leading '#') placed with this e-mail address.

    Raises GuestLookupFailed, the same way whether the number is unknown or the e-mail does not match.
    """
    number = normalise_order_number(order_number)
    wanted = normalise_email(email).encode()
    # Order numbers are unique as given; two that differ only in case are both candidates.
    candidates = db.session.scalars(
        select(Order).where(func.upper(Order.number) == func.upper(number)).limit(5)
    ).all()
    found: Order | None = None
    for order in candidates:
        if hmac.compare_digest(order.email.encode(), wanted):
            found = order
    if not candidates:
        hmac.compare_digest(_NO_EMAIL.encode(), wanted)  # the same work as a wrong e-mail
    if found is None:
        raise GuestLookupFailed("No order matches this number and e-mail address.")
    return found


def request_guest_link(order_number: str, email: str, valid_for: timedelta) -> GuestLink | None:
    """Write a sign-in link for the matching order and queue its e-mail (sent after commit).

    Returns None when nothing matches; callers must answer the same either way. The token is made by the job
    (`issue_link_token`), so it never sits in Redis.
    """
    try:
        order = look_up_order(order_number, email)
    except GuestLookupFailed:
        return None
    now = clock.now()
    link = GuestLink(order_id=order.id, created_at=now, expires_at=now + valid_for)
    db.session.add(link)
    db.session.flush()
    from portal.orders.guest_tasks import send_guest_link  # the job module imports this one

    enqueue_after_commit(
        send_guest_link, link.id, job_id=link_job_id(link.id), queue="messages", retry=LINK_JOB_RETRY
    )
    return link


def issue_link_token(link_id: int) -> IssuedLink | None:
    """Give a link its secret token (storing only the hash), once: None if it was already sent or expired.

    Locks the row, so two runs of the same job cannot both issue a token.
    """
    link = db.session.scalar(select(GuestLink).where(GuestLink.id == link_id).with_for_update())
    if link is None or link.sent_at is not None or link.used_at is not None or link.expires_at <= clock.now():
        return None
    token = new_token()
    link.token_hash = hash_token(token)
    db.session.flush()
    return IssuedLink(link, token)


def mark_link_sent(link: GuestLink) -> None:
    link.sent_at = clock.now()
    db.session.flush()


def _usable_link_hash(token: str) -> str:
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise GuestLinkInvalid("This link has expired or was already used.")
    return hash_token(token)


def check_guest_link(token: str) -> GuestLink:
    """The link for `token` if it can still be used; does not use it up. Raises GuestLinkInvalid."""
    token_hash = _usable_link_hash(token)
    link = db.session.scalar(select(GuestLink).where(GuestLink.token_hash == token_hash))
    if link is None or link.used_at is not None or link.expires_at <= clock.now():
        raise GuestLinkInvalid("This link has expired or was already used.")
    return link


def redeem_guest_link(token: str) -> Order:
    """Use the link up and return its order. Raises GuestLinkInvalid if unknown, expired or already used.

    One conditional UPDATE, so two simultaneous redemptions cannot both succeed.
    """
    token_hash = _usable_link_hash(token)
    now = clock.now()
    order_id = db.session.scalar(
        update(GuestLink)
        .where(GuestLink.token_hash == token_hash, GuestLink.used_at.is_(None), GuestLink.expires_at > now)
        .values(used_at=now)
        .returning(GuestLink.order_id)
        .execution_options(synchronize_session=False)
    )
    if order_id is None:
        raise GuestLinkInvalid("This link has expired or was already used.")
    order = db.session.get(Order, order_id)
    if order is None:  # deleted meanwhile (the link row would have gone with it)
        raise GuestLinkInvalid("This link has expired or was already used.")
    return order
