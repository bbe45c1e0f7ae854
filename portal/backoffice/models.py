"""The backoffice area's tables: sequences staff stopped, plus the indexes staff search needs on orders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.db import UTCDateTime
from portal.extensions import db
from portal.orders.models import Order, Shipment
from portal.shop_settings import ShopSettingOverride

__all__ = ["SequenceStop", "ShopSettingOverride"]


class SequenceStop(db.Model):  # type: ignore[name-defined]
    """Staff stopped the rest of an order's message sequence: every message still due is skipped."""

    __tablename__ = "sequence_stops"

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    stopped_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    stopped_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    stopped_by_label: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str | None] = mapped_column(String(300))


# Staff search: prefix ranges on the lower-cased customer name, and the newest orders first for a date range.
# (Order numbers, e-mails and tracking numbers are indexed by their own area already.) The dashboard reads a
# period's parcels by handover and by delivery time.
Index("ix_orders_customer_name_lower", func.lower(Order.__table__.c.customer_name))
Index("ix_orders_placed_at", Order.__table__.c.placed_at)
Index("ix_shipments_shipped_at", Shipment.__table__.c.shipped_at)
Index("ix_shipments_delivered_at", Shipment.__table__.c.delivered_at)
