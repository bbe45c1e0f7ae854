"""Users (shoppers and staff) and API clients."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.db import TimestampMixin, UTCDateTime
from portal.extensions import db

ROLES = ("shopper", "agent", "admin")
STAFF_ROLES = ("agent", "admin")


def new_auth_id() -> str:
    """A fresh alternative id: changing it signs the user out of every session and remember-me cookie."""
    return secrets.token_urlsafe(24)


class User(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored trimmed and lower-cased, so the unique index is case-insensitive on every database.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16), default="shopper")
    locale: Mapped[str | None] = mapped_column(String(8))
    timezone: Mapped[str | None] = mapped_column(String(64))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    marketing_consent: Mapped[bool] = mapped_column(default=False)
    channel_preferences: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    auth_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_auth_id)
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    # Flask-Login protocol; get_id returns the alternative id so it can be revoked.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return self.auth_id

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF_ROLES

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class ApiClient(TimestampMixin, db.Model):  # type: ignore[name-defined]
    """A system of the shop or a carrier that calls the JSON API with a bearer token."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # sha256 of the token: the token has 256 bits of entropy, so a fast hash is enough and lookups stay O(1).
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<ApiClient {self.name}>"


ACCOUNT_EMAIL_KINDS = ("verify_email", "password_reset", "email_changed")


class AccountEmail(db.Model):  # type: ignore[name-defined]
    """An account e-mail (verification link, password reset, e-mail-changed notice) asked for and not yet
    known to be sent: the row is written with the change that asks for it, so an e-mail whose job was lost
    (Redis down at commit) still goes out (`portal.accounts.tasks.sweep_account_emails`). Links are built
    when the e-mail is sent; no token is stored.

    status: pending → sending (claimed by a job; `claimed_at` is when the latest attempt began) → sent, or
    back to pending after a failed attempt, failed after MESSAGE_MAX_ATTEMPTS, skipped when there was
    nothing (left) to send (the account was deactivated, the address verified already).
    """

    __tablename__ = "account_emails"
    __table_args__ = (Index("ix_account_emails_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    # password_reset: "forgot" or "registration" (someone tried to register with the address).
    reason: Mapped[str | None] = mapped_column(String(32))
    # email_changed: the previous address, which gets the notice.
    to_address: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    def __repr__(self) -> str:
        return f"<AccountEmail {self.id} {self.kind} {self.status}>"
