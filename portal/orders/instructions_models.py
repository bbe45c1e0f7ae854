"""Delivery instructions of a shipment: every change is a new, numbered version; the highest is current."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal import clock
from portal.db import UTCDateTime
from portal.extensions import db

SAFE_PLACES = ("front_door", "back_door", "porch", "garage", "reception", "neighbour", "other")
# Who made a change: the order's account holder, someone who looked the order up, or customer service.
CHANGED_BY_ROLES = ("customer", "guest", "staff")
# The fields a version holds, in the order forms, pages and "what changed" lists show them.
INSTRUCTION_FIELDS = (
    "safe_place",
    "safe_place_other",
    "neighbour_name",
    "neighbour_house_number",
    "access_code",
    "note",
    "preferred_date",
)

MAX_NOTE_LENGTH = 500
MAX_SAFE_PLACE_OTHER_LENGTH = 200
MAX_NEIGHBOUR_NAME_LENGTH = 100
MAX_HOUSE_NUMBER_LENGTH = 20
MAX_ACCESS_CODE_LENGTH = 50


class DeliveryInstructionVersion(db.Model):  # type: ignore[name-defined]
    """One saved state of a shipment's instructions; (shipment, version) is unique, so two saves based on
    the same version cannot both win."""

    __tablename__ = "delivery_instruction_versions"
    __table_args__ = (UniqueConstraint("shipment_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"))
    version: Mapped[int]
    safe_place: Mapped[str | None] = mapped_column(String(16))
    safe_place_other: Mapped[str | None] = mapped_column(String(MAX_SAFE_PLACE_OTHER_LENGTH))
    neighbour_name: Mapped[str | None] = mapped_column(String(MAX_NEIGHBOUR_NAME_LENGTH))
    neighbour_house_number: Mapped[str | None] = mapped_column(String(MAX_HOUSE_NUMBER_LENGTH))
    access_code: Mapped[str | None] = mapped_column(String(MAX_ACCESS_CODE_LENGTH))
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH))
    preferred_date: Mapped[date | None] = mapped_column(Date)
    changed_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    changed_by_role: Mapped[str] = mapped_column(String(16))
    changed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    changed_by_label: Mapped[str] = mapped_column(String(200), default="")

    def __repr__(self) -> str:
        return f"<DeliveryInstructionVersion shipment={self.shipment_id} v{self.version}>"
