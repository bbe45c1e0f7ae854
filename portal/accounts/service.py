"""Account operations: registration, e-mail verification, signing in, password reset, profile and preferences.

Functions flush and raise domain errors; the caller commits once. Each account e-mail is an `AccountEmail` row
written in the caller's transaction, sent by a job queued after the commit (`portal.accounts.tasks`); should
that job be lost, the sweeper queues it again.
"""

from __future__ import annotations

import functools
import hmac
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, cast
from zoneinfo import available_timezones

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask_babel import gettext as _
from sqlalchemy import CursorResult, column, select, table, update
from sqlalchemy.exc import IntegrityError

from portal import audit, clock
from portal.accounts import tasks
from portal.accounts.models import ROLES, AccountEmail, User, new_auth_id
from portal.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, password_problem
from portal.accounts.tokens import (
    InvalidLink,
    password_fingerprint,
    read_reset_token,
    read_verification_token,
)
from portal.config import SUPPORTED_LOCALES
from portal.db import UTCDateTime
from portal.errors import Conflict, Invalid
from portal.extensions import db
from portal.queue import enqueue_after_commit

# argon2id with the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_hasher = PasswordHasher()

MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200

# Kinds of message a customer chooses channels for: "updates" are the transactional steps (confirmation,
# shipping, delivery, exceptions), "followups" the post-delivery follow-up and survey invitations.
MESSAGE_KINDS = ("updates", "followups")
CHANNELS = ("email", "sms")
DEFAULT_CHANNEL_PREFERENCES: dict[str, dict[str, bool]] = {
    "updates": {"email": True, "sms": False},
    "followups": {"email": True, "sms": False},
}

_PHONE_SEPARATORS = re.compile(r"[\s\-./()]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; a missing hash still costs one hash so timing does not tell."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def normalise_email(email: str) -> str:
    """An address as it is stored and compared everywhere (users, orders, guest lookup): trimmed, lowered."""
    return email.strip().lower()


def create_user(
    email: str, password: str, role: str = "shopper", name: str = "", *, verified: bool = False
) -> User:
    """Create a user. Raises Invalid for a bad role or password length, Conflict if the e-mail is taken."""
    email = normalise_email(email)
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}.", fields={"role": "Unknown role."})
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(
            "Password length is out of range.",
            fields={"password": f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."},
        )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this e-mail exists already.", code="email_taken")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        name=name,
        email_verified_at=clock.now() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    return user


def find_user_by_email(email: str) -> User | None:
    """The account with this address (compared case-insensitively), or None."""
    email = normalise_email(email)
    if not email or len(email) > MAX_EMAIL_LENGTH:
        return None
    return db.session.scalar(select(User).where(User.email == email))


def _actor(user: User) -> audit.Actor:
    return audit.Actor.user(user.id, user.email)


def _queue_account_email(
    user: User, kind: str, *, reason: str | None = None, to_address: str | None = None
) -> None:
    """Write the e-mail's row in the current transaction (or savepoint) and queue its job after the commit.

    A row still pending for the same e-mail is queued again rather than joined by another, so a double click
    sends one e-mail (and asking again while Redis was down queues the one waiting).
    """
    query = select(AccountEmail).where(
        AccountEmail.user_id == user.id, AccountEmail.kind == kind, AccountEmail.status == "pending"
    )
    query = query.where(AccountEmail.reason == reason if reason else AccountEmail.reason.is_(None))
    query = query.where(
        AccountEmail.to_address == to_address if to_address else AccountEmail.to_address.is_(None)
    )
    row = db.session.scalar(query.order_by(AccountEmail.id).limit(1))
    if row is None:
        row = AccountEmail(user_id=user.id, kind=kind, reason=reason, to_address=to_address)
        db.session.add(row)
        db.session.flush()
    enqueue_after_commit(
        tasks.send_account_email, row.id, job_id=tasks.job_id(row.id, row.attempts), queue=tasks.QUEUE
    )


def has_control_characters(text: str) -> bool:
    """True if `text` holds line breaks, NUL or other control characters (a name must not: it goes into
    e-mail headers, and PostgreSQL refuses NUL)."""
    return any(unicodedata.category(char) == "Cc" for char in text)


def _refuse_bad_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or has_control_characters(name):
        message = _("Enter your name (up to %(num)d characters).", num=MAX_NAME_LENGTH)
        raise Invalid(message, fields={"name": message})
    return name


def _refuse_weak_password(password: str, user_email: str, user_name: str, field: str = "password") -> None:
    problem = password_problem(password, email=user_email, name=user_name)
    if problem:
        raise Invalid(problem, fields={field: problem})


# --- registration and verification --------------------------------------------------------------------------


def register_shopper(name: str, email: str, password: str, *, locale: str | None = None) -> None:
    """Register a shopper with this address; nobody is signed in (that happens when the address is verified).

    Registration must not tell whether an address has an account, so the caller answers "check your inbox"
    whatever happens here, and what differs goes by e-mail to the address:

    - a new address: an unverified shopper is created and gets the link that verifies the address;
    - an unverified account: whoever registered it never proved the address is theirs, so this registration
      takes its place (name, password, preferences), their sessions end, and the link goes out again; it
      works only with the new password, and links sent for the old one die with it;
    - a verified account: nothing changes; the owner gets a note with a link to set a new password, in case
      that is why they tried to register.

    The password is hashed on every path, so the time taken does not tell either. Raises Invalid for a name
    or password the policy refuses.
    """
    name, email = _refuse_bad_name(name), normalise_email(email)
    _refuse_weak_password(password, email, name)
    locale = locale if locale in SUPPORTED_LOCALES else None
    existing = find_user_by_email(email)
    if existing is None:
        try:
            # The audit entry and the e-mail's row are written inside the savepoint too: on SQLite, releasing
            # the outermost savepoint commits, and a second write after it would make a new address answer
            # slower still.
            with db.session.begin_nested():
                user = create_user(email, password, "shopper", name)
                user.locale = locale
                audit.record(_actor(user), "account.registered", "user", user.id)
                request_email_verification(user)
        except (Conflict, IntegrityError):  # registered by a concurrent request a moment ago
            existing = find_user_by_email(email)
        else:
            return
    password_hash = hash_password(password)
    if existing is None or not existing.active:
        return
    if existing.email_verified_at is None:
        _register_again(existing, name, password_hash, locale)
    else:
        # Recorded for the owner's history, and so that this path writes and commits like a new registration
        # does: without it a taken address answered measurably faster (tests/security/test_enumeration.py).
        audit.record(_actor(existing), "account.registration_attempted", "user", existing.id)
        _queue_account_email(existing, "password_reset", reason="registration")


def _register_again(user: User, name: str, password_hash: str, locale: str | None) -> None:
    """Hand an unverified account to whoever registered its address last.

    Nothing the earlier registrant chose survives (else someone who registers another person's address first
    could keep a password, a phone number for the text messages, or a session for the account that later
    holds that person's orders).
    """
    user.name = name
    user.password_hash = password_hash
    user.locale = locale
    user.phone = None
    user.timezone = None
    user.channel_preferences = {}
    user.marketing_consent = False
    end_all_sessions(user)
    audit.record(_actor(user), "account.registered_again", "user", user.id)
    request_email_verification(user)


def request_email_verification(user: User) -> bool:
    """Queue an e-mail with a link that verifies the user's current address; False if it is verified."""
    if user.email_verified_at is not None:
        return False
    _queue_account_email(user, "verify_email")
    return True


def user_for_verification_token(token: str, *, lock: bool = False) -> User:
    """The user whose address the token verifies, while it can: the address is still theirs and unverified,
    and their password is the one the link was sent for. Raises InvalidLink."""
    user_id, email, fingerprint = read_verification_token(token)
    # Locked and read afresh when about to verify: of two requests at once, the second sees the first's work.
    user = db.session.get(User, user_id, with_for_update=lock, populate_existing=lock)
    if (
        user is None
        or not user.active
        or user.email != email
        or user.email_verified_at is not None
        or not hmac.compare_digest(fingerprint, password_fingerprint(user.password_hash))
    ):
        raise InvalidLink()
    return user


@dataclass(frozen=True)
class Verification:
    user: User
    claimed_orders: int = 0


def verify_email(token: str, password: str) -> Verification:
    """Verify the address the token was made for, given the account's password; add the guest orders.

    The link alone proves only that the e-mail arrived (a mail scanner may have opened it); the password
    proves that whoever holds the account is the person at that address. Every session of the account ends
    (anyone else signed in to it is out) and the sign-in is recorded: the caller signs this browser in.

    Raises InvalidLink for a bad, expired or used token, Invalid for a wrong password.
    """
    user = user_for_verification_token(token, lock=True)
    if not verify_password(user.password_hash, password):
        message = _("This is not the password of your account.")
        raise Invalid(message, fields={"password": message})
    user.email_verified_at = clock.now()
    claimed = claim_guest_orders(user)
    end_all_sessions(user)
    record_sign_in(user)
    audit.record(_actor(user), "account.email_verified", "user", user.id, after={"claimed_orders": claimed})
    return Verification(user, claimed_orders=claimed)


# The orders table as a plain table: accounts sits below orders and must not import it.
_orders = table(
    "orders",
    column("customer_id"),
    column("email"),
    column("updated_at", UTCDateTime()),
)


def claim_guest_orders(user: User) -> int:
    """Give a verified user the orders placed as a guest with their address; returns how many.

    Later orders with the address join the account when they arrive (the orders service links them).
    """
    if user.email_verified_at is None:
        return 0
    result = db.session.execute(
        update(_orders)
        .where(_orders.c.customer_id.is_(None), _orders.c.email == user.email)
        .values(customer_id=user.id, updated_at=clock.now())
    )
    return int(cast(CursorResult[Any], result).rowcount)


# --- signing in and out -------------------------------------------------------------------------------------


def authenticate(email: str, password: str) -> User | None:
    """The active user with this address and password, or None.

    An unknown address costs a password verification too, so the time taken does not tell whether it exists.
    """
    user = find_user_by_email(email)
    password_hash = user.password_hash if user is not None else None
    if not verify_password(password_hash, password) or user is None or not user.active:
        return None
    assert password_hash is not None
    if _hasher.check_needs_rehash(password_hash):
        user.password_hash = hash_password(password)
    return user


def record_sign_in(user: User) -> None:
    user.last_login_at = clock.now()


def end_all_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie carries the old alternative id."""
    user.auth_id = new_auth_id()


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    end_all_sessions(user)


# --- password reset -----------------------------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """Queue an e-mail with a reset link if an active account has this address; do nothing otherwise.

    The caller answers the same either way, so the page does not tell whether the address has an account.
    """
    user = find_user_by_email(email)
    if user is None or not user.active:
        return
    _queue_account_email(user, "password_reset", reason="forgot")


def user_for_reset_token(token: str) -> User:
    """The user a reset token was made for, while it is valid. Raises InvalidLink."""
    user_id, fingerprint = read_reset_token(token)
    user = db.session.get(User, user_id)
    if (
        user is None
        or not user.active
        or not hmac.compare_digest(fingerprint, password_fingerprint(user.password_hash))
    ):
        raise InvalidLink()
    return user


def reset_password(token: str, password: str) -> User:
    """Set a new password with a reset token and end every session of the user; returns the user.

    Raises InvalidLink for a bad, expired or used token, Invalid for a password the policy refuses.
    """
    user = user_for_reset_token(token)
    _refuse_weak_password(password, user.email, user.name)
    _set_password(user, password)
    audit.record(_actor(user), "account.password_reset", "user", user.id)
    return user


# --- the account page ---------------------------------------------------------------------------------------


def channel_preferences(user: User) -> dict[str, dict[str, bool]]:
    """The user's channel choices per kind of message, with the defaults filled in."""
    stored: Any = user.channel_preferences or {}
    preferences: dict[str, dict[str, bool]] = {}
    for kind, defaults in DEFAULT_CHANNEL_PREFERENCES.items():
        chosen = stored.get(kind) if isinstance(stored, dict) else None
        chosen = chosen if isinstance(chosen, dict) else {}
        preferences[kind] = {
            channel: bool(chosen.get(channel, default)) for channel, default in defaults.items()
        }
    return preferences


def normalise_phone(phone: str) -> str | None:
    """The number in international form ("+49301234567"), None for an empty one. Raises Invalid."""
    compact = _PHONE_SEPARATORS.sub("", phone.strip())
    if not compact:
        return None
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not _E164.fullmatch(compact):
        message = _("Enter the number in international format, starting with + and the country code.")
        raise Invalid(message, fields={"phone": message})
    return compact


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_known_timezone(name: str) -> bool:
    """True for an IANA time zone name; checked against the list, so input never becomes a file path."""
    return name in _known_timezones()


def _refuse_unknown_locale(locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        message = _("Choose one of the languages offered.")
        raise Invalid(message, fields={"locale": message})


def set_locale(user: User, locale: str) -> None:
    """Store the language of the user's pages and messages (the language switch). Raises Invalid for a
    language not offered."""
    _refuse_unknown_locale(locale)
    if user.locale == locale:
        return
    before = {"locale": user.locale}
    user.locale = locale
    after = {"locale": locale}
    audit.record(_actor(user), "account.locale_changed", "user", user.id, before=before, after=after)
    db.session.flush()


@dataclass(frozen=True)
class ProfileChanges:
    name: str
    phone: str
    locale: str
    timezone: str
    channel_preferences: dict[str, dict[str, bool]]
    marketing_consent: bool


def update_profile(user: User, changes: ProfileChanges) -> None:
    """Save name, phone, language, time zone, channel choices and marketing consent. Raises Invalid."""
    name = _refuse_bad_name(changes.name)
    phone = normalise_phone(changes.phone)
    _refuse_unknown_locale(changes.locale)
    if not is_known_timezone(changes.timezone):
        message = _("Choose a time zone from the list.")
        raise Invalid(message, fields={"timezone": message})
    preferences = {
        kind: {channel: bool(changes.channel_preferences.get(kind, {}).get(channel)) for channel in CHANNELS}
        for kind in MESSAGE_KINDS
    }
    if phone is None and any(preferences[kind]["sms"] for kind in MESSAGE_KINDS):
        message = _("Add a mobile number to get text messages.")
        raise Invalid(message, fields={"phone": message})

    before = _profile_snapshot(user)
    user.name = name
    user.phone = phone
    user.locale = changes.locale
    user.timezone = changes.timezone
    user.channel_preferences = preferences
    user.marketing_consent = changes.marketing_consent
    after = _profile_snapshot(user)
    if after != before:
        audit.record(_actor(user), "account.profile_changed", "user", user.id, before=before, after=after)


def _profile_snapshot(user: User) -> dict[str, Any]:
    return {
        "name": user.name,
        "phone": user.phone,
        "locale": user.locale,
        "timezone": user.timezone,
        "channel_preferences": channel_preferences(user),
        "marketing_consent": user.marketing_consent,
    }


def _check_current_password(user: User, password: str) -> None:
    if not verify_password(user.password_hash, password):
        message = _("This is not your current password.")
        raise Invalid(message, fields={"current_password": message})


def change_email(user: User, current_password: str, new_email: str) -> None:
    """Move the account to a new address, which is unverified until its link is opened.

    The new address gets a verification link, the old one a note about the change. Raises Invalid for a wrong
    current password or a malformed or unchanged address, Conflict when another account has the address.
    """
    _check_current_password(user, current_password)
    new_email = normalise_email(new_email)
    if not new_email or len(new_email) > MAX_EMAIL_LENGTH or "@" not in new_email:
        message = _("Enter an email address like name@example.com.")
        raise Invalid(message, fields={"email": message})
    if new_email == user.email:
        message = _("This is already the email address of your account.")
        raise Invalid(message, fields={"email": message})
    # The user proved who they are with their password, and a rate limit stands in front of this: telling them
    # the address is taken is the only way for them to understand why it cannot be theirs.
    taken = _("Another account uses this email address.")
    if find_user_by_email(new_email) is not None:
        raise Conflict(taken, code="email_taken", fields={"email": taken})
    old_email = user.email
    try:
        with db.session.begin_nested():
            user.email = new_email
            user.email_verified_at = None
            db.session.flush()
    except IntegrityError:
        raise Conflict(taken, code="email_taken", fields={"email": taken}) from None
    audit.record(
        _actor(user),
        "account.email_changed",
        "user",
        user.id,
        before={"email": old_email},
        after={"email": new_email},
    )
    request_email_verification(user)
    _queue_account_email(user, "email_changed", to_address=old_email)


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Set a new password and end every session of the user (the caller signs this one in again).

    Raises Invalid for a wrong current password or a new password the policy refuses.
    """
    _check_current_password(user, current_password)
    _refuse_weak_password(new_password, user.email, user.name)
    _set_password(user, new_password)
    audit.record(_actor(user), "account.password_changed", "user", user.id)
