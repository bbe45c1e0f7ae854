"""Single-use sign-in links that let a guest open one order from their mailbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock
from portal.db import UTCDateTime
from portal.extensions import db
from portal.orders.models import Order

# The guest lookup compares order numbers case-insensitively; this keeps that comparison an index lookup.
Index("ix_orders_number_upper", func.upper(Order.number))


class GuestLink(db.Model):  # type: ignore[name-defined]
    """A link e-mailed to the address on an order: grants this order once, until it expires.

    The web request only writes the row; the job that sends the e-mail makes up the secret token and stores
    its SHA-256 here, so the token itself is never in the database or in the queue.
    """

    __tablename__ = "guest_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the sweeper's live links
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()

    def __repr__(self) -> str:
        return f"<GuestLink {self.id} order={self.order_id}>"
