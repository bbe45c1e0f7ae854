"""Jobs (queue "messages") that send the account e-mails. They take ids and build links at send time, so no
token ever waits in Redis; each sends at most once per job id, however often the job runs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from rq import get_current_job

from portal.accounts.models import User
from portal.accounts.tokens import (
    make_reset_token,
    make_verification_token,
    reset_link_lifetime_seconds,
    verify_link_lifetime_seconds,
)
from portal.extensions import db
from portal.mail import send_email
from portal.queue import redis_connection

_SENT_KEY = "portal:accounts:sent:{}"
_SENT_MEMORY_SECONDS = 7 * 24 * 3600


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link to a page of the portal, for a message sent outside any request (PORTAL_BASE_URL)."""
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path.rstrip("/") or "/", url_scheme=base.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def _already_sent() -> bool:
    job = get_current_job()
    return job is not None and bool(redis_connection().exists(_SENT_KEY.format(job.id)))


def _mark_sent() -> None:
    job = get_current_job()
    if job is not None:
        redis_connection().set(_SENT_KEY.format(job.id), 1, ex=_SENT_MEMORY_SECONDS)


def _active_user(user_id: int) -> User | None:
    user = db.session.get(User, user_id)
    return user if user is not None and user.active else None


def _send_once(user: User, template: str, *, to: str | None = None, **context: Any) -> bool:
    """Send the account e-mail `template` to the user (or to `to`) in their language, unless this job sent
    it already; True if it went out now."""
    if _already_sent():
        return False
    send_email(to or user.email, template, user.locale, to_name=user.name, customer_name=user.name, **context)
    _mark_sent()
    return True


def send_verification_email(user_id: int) -> bool:
    """E-mail the link that verifies the user's current address; False if there is nothing (left) to do."""
    user = _active_user(user_id)
    if user is None or user.email_verified_at is not None:
        return False
    return _send_once(
        user,
        "verify_email",
        link=external_url("accounts.verify_email", token=make_verification_token(user)),
        hours=verify_link_lifetime_seconds() // 3600,
    )


def send_password_reset_email(user_id: int, reason: str = "forgot") -> bool:
    """E-mail a link to set a new password.

    `reason` is "forgot" (the user asked for it) or "registration" (someone tried to register with the
    address of this account; the e-mail says so, and offers the link in case the owner forgot the password).
    """
    user = _active_user(user_id)
    if user is None:
        return False
    return _send_once(
        user,
        "password_reset",
        reason=reason,
        link=external_url("accounts.reset_password", token=make_reset_token(user)),
        sign_in_link=external_url("accounts.login"),
        minutes=reset_link_lifetime_seconds() // 60,
    )


def send_email_changed_notice(user_id: int, old_email: str) -> bool:
    """Tell the previous address that the account moved to another one, in case that was not the owner."""
    user = _active_user(user_id)
    if user is None or user.email == old_email:
        return False
    return _send_once(user, "email_changed", to=old_email, new_email=user.email)
