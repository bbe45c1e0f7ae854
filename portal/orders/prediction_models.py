"""Tables of the predictive delivery model: transit-time statistics per lane, and each open parcel's outlook.

A *lane* is carrier + service + destination country + area (postal-code prefix). Coarser lanes use ANY ("*")
for the parts they leave out, so the fallback chain is a few exact look-ups. Rows are rebuilt by the
`refresh-predictions` job, never by a page view.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import UTCDateTime
from portal.extensions import db
from portal.orders.models import Shipment

ANY = "*"


class LaneStatistic(db.Model):  # type: ignore[name-defined]
    """Transit times (business days to delivery) from one status on one lane, over the rolling window.

    `from_status` is a tracking status, or "shipped" for the handover to the carrier. Percentiles are nearest
    rank; `gap_p95_hours` is the 95th percentile of the time a parcel spends without news after an event of
    `from_status` (what "stalled" is measured against).
    """

    __tablename__ = "prediction_lanes"
    __table_args__ = (UniqueConstraint("carrier", "service", "country", "area", "from_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2))
    area: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str] = mapped_column(String(24))
    parcels: Mapped[int]
    p20: Mapped[int]
    p50: Mapped[int]
    p80: Mapped[int]
    p95: Mapped[int]
    gap_p95_hours: Mapped[float | None] = mapped_column(Float())
    # Parcels of the lane (from handover) that had a promised window, and those delivered within it.
    with_promise: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.with_promise if self.with_promise else None


class ShipmentRisk(db.Model):  # type: ignore[name-defined]
    """The latest evaluation of an open parcel: the lane that predicted it, whether it is at risk, and why."""

    __tablename__ = "shipment_risks"

    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    # The lane the prediction came from, e.g. "dhl/paket/DE/10", and how many parcels it holds.
    lane: Mapped[str | None] = mapped_column(String(200))
    parcels: Mapped[int] = mapped_column(default=0)
    confidence: Mapped[str | None] = mapped_column(String(8))
    stalled: Mapped[bool] = mapped_column(default=False, index=True)
    late: Mapped[bool] = mapped_column(default=False, index=True)
    # Why, in plain (untranslated, staff-facing) words; empty when not at risk.
    reason: Mapped[str | None] = mapped_column(String(300))
    # The shipment's last event when evaluated: a newer one means the parcel moved (a stall is over).
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the customer was told (the delivery_exception message): once per parcel.
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evaluated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    shipment: Mapped[Shipment] = relationship(back_populates="risk")

    @property
    def at_risk(self) -> bool:
        return self.stalled or self.late


# The orders model stays unaware of predictions; the relationship is added from here so the order page can
# load the risk with the shipments (one statement) instead of per parcel.
Shipment.risk = relationship(
    ShipmentRisk,
    back_populates="shipment",
    uselist=False,
    cascade="all, delete-orphan",
    passive_deletes=True,
)
SHIPMENT_RISK: Any = Shipment.risk
