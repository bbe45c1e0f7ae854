"""The returns area's tables: returns (RMA), their lines, their status history and their label PDF."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from portal import clock
from portal.db import TimestampMixin, UTCDateTime
from portal.extensions import db
from portal.orders.models import Money, Order, OrderItem

RETURN_STATUSES = (
    "requested",
    "approved",
    "label_ready",
    "in_transit",
    "received",
    "refunded",
    "credited",
    "rejected",
    "cancelled",
)
# Returns in these states hold their items: the quantities cannot be returned a second time.
HOLDING_STATUSES = ("requested", "approved", "label_ready", "in_transit", "received", "refunded", "credited")
# The shopper may cancel until the parcel is on its way.
CANCELLABLE_STATUSES = ("requested", "approved", "label_ready")
RESOLUTIONS = ("refund", "store_credit", "exchange")
METHODS = ("label", "qr_dropoff")
LABEL_STATES = ("pending", "rendering", "ready", "failed")


class Return(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "returns"
    __table_args__ = (
        Index("ix_returns_status_created", "status", "created_at"),
        CheckConstraint(
            "status IN ('requested', 'approved', 'label_ready', 'in_transit', 'received', 'refunded', "
            "'credited', 'rejected', 'cancelled')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rma: Mapped[str] = mapped_column(String(16), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    resolution: Mapped[str] = mapped_column(String(16))
    exchange_wish: Mapped[str | None] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    # The value of the returned lines, and the bonus on top when the customer chose store credit.
    refund_amount: Mapped[Decimal] = mapped_column(Money)
    credit_bonus: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    # The parcel's tracking number (scans of it move the return to in_transit): the RMA, printed as a barcode.
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    # A double submit of the same form carries the same key and finds this return instead of making another.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # Why the rules sent it to staff (None: approved automatically).
    review_rule: Mapped[str | None] = mapped_column(String(32))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decision_note: Mapped[str | None] = mapped_column(String(1000))

    order: Mapped[Order] = relationship()
    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_", cascade="all, delete-orphan", order_by="ReturnLine.id"
    )
    events: Mapped[list[ReturnEvent]] = relationship(
        back_populates="return_",
        cascade="all, delete-orphan",
        order_by="(ReturnEvent.occurred_at, ReturnEvent.id)",
    )
    label: Mapped[ReturnLabel | None] = relationship(back_populates="return_", cascade="all, delete-orphan")

    def __repr__(self) -> str:
        return f"<Return {self.rma} {self.status}>"


class ReturnLine(db.Model):  # type: ignore[name-defined]
    __tablename__ = "return_lines"
    __table_args__ = (
        UniqueConstraint("return_id", "order_item_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    order_item_id: Mapped[int] = mapped_column(ForeignKey("order_items.id", ondelete="CASCADE"), index=True)
    quantity: Mapped[int]
    reason_code: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str | None] = mapped_column(String(1000))

    return_: Mapped[Return] = relationship(back_populates="lines")
    order_item: Mapped[OrderItem] = relationship()


class ReturnEvent(db.Model):  # type: ignore[name-defined]
    """One step in a return's life, for its timeline: the status it reached, when, who, and a note."""

    __tablename__ = "return_events"
    __table_args__ = (Index("ix_return_events_return_time", "return_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str | None] = mapped_column(String(1000))

    return_: Mapped[Return] = relationship(back_populates="events")


class ReturnLabel(db.Model):  # type: ignore[name-defined]
    """The label PDF of a return, stored in the database so any web node serves it; one per return.

    `state` moves pending → rendering (claimed by a worker, with a lease) → ready, or failed after too many
    attempts. The claim token makes sure only the claimant's result is stored.
    """

    __tablename__ = "return_labels"
    __table_args__ = (
        Index("ix_return_labels_state_claimed", "state", "claimed_at"),
        CheckConstraint("state IN ('pending', 'rendering', 'ready', 'failed')", name="state_known"),
    )

    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claim_token: Mapped[str | None] = mapped_column(String(32))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    pdf: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int | None]
    generated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))

    return_: Mapped[Return] = relationship(back_populates="label")
