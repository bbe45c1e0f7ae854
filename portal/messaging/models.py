"""The outbox (one row per message of the sequence) and the opt-outs kept by address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock
from portal.db import TimestampMixin, UTCDateTime
from portal.extensions import db
from portal.orders.models import Order, Shipment

MESSAGE_STATUSES = ("scheduled", "sending", "sent", "skipped", "failed")


class Message(TimestampMixin, db.Model):  # type: ignore[name-defined]
    """One step of the sequence on one channel for one order (and shipment): scheduled, then sent or skipped.

    `scope` makes the step unique where it may happen more than once per order: "" for order-wide steps,
    "s<shipment id>" per shipment, plus a day or a version where a step repeats (exceptions, instructions).
    `due_at` is when the message should go next: deferrals (quiet hours, the daily cap) and retries move it.
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("order_id", "step", "channel", "scope"),
        # The dispatcher's query: status = 'scheduled' AND due_at <= :now ORDER BY due_at, id (no sort step).
        Index("ix_messages_status_due", "status", "due_at", "id"),
        # The daily cap counts what went to one recipient recently.
        Index("ix_messages_recipient_due", "recipient", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(
        ForeignKey("shipments.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(64), default="")
    recipient: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    skip_reason: Mapped[str | None] = mapped_column(String(40))
    # When the event behind the message happened: the staleness guard measures from here.
    event_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(String(500))
    # The text of an SMS as sent (the `log` backend's record of it).
    body: Mapped[str | None] = mapped_column(Text)
    # Extra values for the templates, given by whoever scheduled the message (plain JSON).
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    order: Mapped[Order] = relationship()
    shipment: Mapped[Shipment | None] = relationship()

    def __repr__(self) -> str:
        return f"<Message {self.id} {self.step}/{self.channel} {self.status}>"


class MessageSuppression(db.Model):  # type: ignore[name-defined]
    """An address that asked for no more messages of a kind: an SMS STOP, or a guest's unsubscribe.

    Account holders' e-mail choices live in their channel preferences; this table covers what has no
    account (guests' e-mail addresses) and what belongs to the phone number itself (STOP).
    """

    __tablename__ = "message_suppressions"
    __table_args__ = (UniqueConstraint("channel", "address", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    # Lower-cased e-mail address or E.164 phone number.
    address: Mapped[str] = mapped_column(String(254))
    # "followups" (one kind of message) or "all".
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
