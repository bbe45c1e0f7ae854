"""The audit trail: who (a user, the system or an API client) did what to which object, before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.db import UTCDateTime
from portal.extensions import db


class AuditEntry(db.Model):  # type: ignore[name-defined]
    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_object", "object_type", "object_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, index=True)
    actor_type: Mapped[str] = mapped_column(String(16))  # user | system | api
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor_api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Actor:
    """Who is acting, passed explicitly to services (they never read the request or the logged-in user)."""

    __slots__ = ("api_client_id", "kind", "label", "user_id")

    def __init__(self, kind: str, label: str, user_id: int | None = None, api_client_id: int | None = None):
        self.kind = kind
        self.label = label
        self.user_id = user_id
        self.api_client_id = api_client_id

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls("system", label)

    @classmethod
    def api_client(cls, client_id: int, name: str) -> Actor:
        return cls("api", name, api_client_id=client_id)

    @classmethod
    def user(cls, user_id: int, label: str) -> Actor:
        return cls("user", label, user_id=user_id)


def record(
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str | int,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the current transaction."""
    entry = AuditEntry(
        actor_type=actor.kind,
        actor_user_id=actor.user_id,
        actor_api_client_id=actor.api_client_id,
        actor_label=actor.label,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        before=before,
        after=after,
    )
    db.session.add(entry)
    return entry
