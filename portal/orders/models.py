"""Orders, their items and events, shipments and the carriers' tracking events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal import clock
from portal.accounts.models import User
from portal.db import TimestampMixin, UTCDateTime
from portal.extensions import db

ORDER_STATUSES = ("placed", "paid", "fulfilled", "cancelled")
# Forward-only progress of a live order; `cancelled` ends it from any state.
ORDER_PROGRESS = ("placed", "paid", "fulfilled")
ORDER_EVENT_TYPES = ("placed", "paid", "fulfilled", "cancelled")

TRACKING_STATUSES = (
    "info_received",
    "in_transit",
    "out_for_delivery",
    "failed_attempt",
    "available_for_pickup",
    "delivered",
    "exception",
    "returned_to_sender",
)

Money = Numeric(14, 3)


class Order(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        Index("ix_orders_status_placed", "status", "placed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Lower-cased; the guest lookup and claiming compare against it.
    email: Mapped[str] = mapped_column(String(254), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    locale: Mapped[str | None] = mapped_column(String(8))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(16), default="placed")
    ship_name: Mapped[str] = mapped_column(String(200))
    ship_line1: Mapped[str] = mapped_column(String(200))
    ship_line2: Mapped[str | None] = mapped_column(String(200))
    ship_city: Mapped[str] = mapped_column(String(100))
    ship_postal_code: Mapped[str] = mapped_column(String(20))
    ship_region: Mapped[str | None] = mapped_column(String(100))
    ship_country: Mapped[str] = mapped_column(String(2))

    customer: Mapped[User | None] = relationship()
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position"
    )
    events: Mapped[list[OrderEvent]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderEvent.occurred_at"
    )
    shipments: Mapped[list[Shipment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Shipment.id"
    )

    def __repr__(self) -> str:
        return f"<Order {self.number} {self.status}>"


class OrderItem(db.Model):  # type: ignore[name-defined]
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "sku"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    variant: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)
    returnable: Mapped[bool] = mapped_column(default=True)
    image_url: Mapped[str | None] = mapped_column(String(500))

    order: Mapped[Order] = relationship(back_populates="items")


class OrderEvent(db.Model):  # type: ignore[name-defined]
    """A step in the order's life reported by the shop; each type happens once per order."""

    __tablename__ = "order_events"
    __table_args__ = (UniqueConstraint("order_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)

    order: Mapped[Order] = relationship(back_populates="events")


class Shipment(TimestampMixin, db.Model):  # type: ignore[name-defined]
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_status_event", "status", "last_event_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    tracking_number: Mapped[str] = mapped_column(String(64), unique=True)
    carrier: Mapped[str] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Canonical status derived from the tracking events; None until the first event arrives.
    status: Mapped[str | None] = mapped_column(String(24))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promised_earliest: Mapped[datetime | None] = mapped_column(UTCDateTime())
    promised_latest: Mapped[datetime | None] = mapped_column(UTCDateTime())
    predicted_earliest: Mapped[datetime | None] = mapped_column(UTCDateTime())
    predicted_latest: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship(back_populates="shipments")
    items: Mapped[list[ShipmentItem]] = relationship(back_populates="shipment", cascade="all, delete-orphan")
    events: Mapped[list[TrackingEvent]] = relationship(
        back_populates="shipment", order_by="(TrackingEvent.occurred_at, TrackingEvent.id)"
    )

    def __repr__(self) -> str:
        return f"<Shipment {self.tracking_number} {self.status}>"


class ShipmentItem(db.Model):  # type: ignore[name-defined]
    """How many of an order item travel in a shipment (orders can be split)."""

    __tablename__ = "shipment_items"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    order_item_id: Mapped[int] = mapped_column(
        ForeignKey("order_items.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    quantity: Mapped[int]

    shipment: Mapped[Shipment] = relationship(back_populates="items")
    order_item: Mapped[OrderItem] = relationship()


class TrackingEvent(db.Model):  # type: ignore[name-defined]
    """One scan or status report from a carrier. Stored once per external event id.

    An event whose tracking number is not (yet) known is kept unmatched and attached when the shipment
    arrives.
    """

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    tracking_number: Mapped[str] = mapped_column(String(64), index=True)
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(24))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    description: Mapped[str | None] = mapped_column(String(500))
    raw_status: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    lat: Mapped[float | None]
    lon: Mapped[float | None]

    shipment: Mapped[Shipment | None] = relationship(back_populates="events")
