"""Signed, expiring links for e-mail verification and password reset.

Nothing is stored: a token names the user and the state it was made for (the unverified address, a fingerprint
of the password hash). Once that state changes the token stops working, which makes it single-use.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer

from portal import clock
from portal.accounts.models import User
from portal.errors import DomainError

_VERIFY_SALT = "portal.accounts.verify-email"
_RESET_SALT = "portal.accounts.reset-password"


class InvalidLink(DomainError):
    """The link is unknown, tampered with, expired or already used; the page does not say which."""

    status = 410
    code = "invalid_link"

    def __init__(self) -> None:
        super().__init__(_("This link is not valid any more. It may have expired or been used already."))


class _ClockSigner(TimestampSigner):
    """Reads the time from `portal.clock`, so tests can move past the expiry."""

    def get_timestamp(self) -> int:
        return int(clock.now().timestamp())


def _serializer(salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=salt, signer=_ClockSigner)


def _load(salt: str, token: str, max_age_seconds: int) -> dict[str, Any]:
    if len(token) > 512:
        raise InvalidLink
    try:
        payload = _serializer(salt).loads(token, max_age=max_age_seconds)
    except BadData:
        raise InvalidLink from None
    if not isinstance(payload, dict):
        raise InvalidLink
    return payload


def verify_link_lifetime_seconds() -> int:
    return int(current_app.config["VERIFY_EMAIL_LINK_HOURS"]) * 3600


def reset_link_lifetime_seconds() -> int:
    return int(current_app.config["PASSWORD_RESET_LINK_MINUTES"]) * 60


def make_verification_token(user: User) -> str:
    """A token for confirming the user's current address with their current password; it dies once that
    address is verified or changed, or the password changes (so a link sent before someone registered the
    address again with another password does not work)."""
    payload = {"user": user.id, "email": user.email, "password": password_fingerprint(user.password_hash)}
    return str(_serializer(_VERIFY_SALT).dumps(payload))


def read_verification_token(token: str) -> tuple[int, str, str]:
    """(user id, e-mail address, password fingerprint) the token was made for. Raises InvalidLink."""
    payload = _load(_VERIFY_SALT, token, verify_link_lifetime_seconds())
    user_id, email, fingerprint = payload.get("user"), payload.get("email"), payload.get("password")
    if not isinstance(user_id, int) or not isinstance(email, str) or not isinstance(fingerprint, str):
        raise InvalidLink
    return user_id, email, fingerprint


def password_fingerprint(password_hash: str | None) -> str:
    """A keyed digest of the password hash: it changes with the password and does not reveal the hash."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()[:32]


def make_reset_token(user: User) -> str:
    """A token for setting a new password; it dies when the password changes (so it works once)."""
    return str(
        _serializer(_RESET_SALT).dumps(
            {"user": user.id, "password": password_fingerprint(user.password_hash)}
        )
    )


def read_reset_token(token: str) -> tuple[int, str]:
    """(user id, password fingerprint) the token was made for. Raises InvalidLink."""
    payload = _load(_RESET_SALT, token, reset_link_lifetime_seconds())
    user_id, fingerprint = payload.get("user"), payload.get("password")
    if not isinstance(user_id, int) or not isinstance(fingerprint, str):
        raise InvalidLink
    return user_id, fingerprint
