"""The surveys area's tables: one invitation per delivered order, one response per order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import TimestampMixin, UTCDateTime
from portal.extensions import db
from portal.orders.models import Order


class SurveyInvitation(db.Model):  # type: ignore[name-defined]
    """The invitation e-mailed for one delivered order (made when the survey_invitation message goes out).

    The link's token is never stored: it is HMAC(SECRET_KEY, token_nonce), so a re-send of the same message
    can rebuild the same link, and the database alone (without the key) cannot. Only its sha256 is stored,
    for the lookup. `email` and `customer_id` are the customer's, for the per-customer throttle.
    """

    __tablename__ = "survey_invitations"
    __table_args__ = (
        Index("ix_survey_invitations_customer_created", "customer_id", "created_at"),
        Index("ix_survey_invitations_email_created", "email", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    email: Mapped[str] = mapped_column(String(254))
    token_nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The first answer for this invitation (survey page or tracking-page rating): the reward goes out then.
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()

    def __repr__(self) -> str:
        return f"<SurveyInvitation {self.id} order={self.order_id}>"


class SurveyResponse(TimestampMixin, db.Model):  # type: ignore[name-defined]
    """What the customer answered about one order: NPS (0–10) and CSAT (1–5), and an optional comment.

    One per order: the tracking page's star rating may come before the invitation exists (it fills `csat`);
    the invitation is linked when it is made or answered. `answered_at` is when the survey page's answer was
    sent (after that only the comment may change); `responded_at` is the first answer of any kind.
    """

    __tablename__ = "survey_responses"
    __table_args__ = (
        CheckConstraint("nps IS NULL OR (nps >= 0 AND nps <= 10)", name="nps_range"),
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), unique=True)
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="SET NULL"), unique=True
    )
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    nps: Mapped[int | None]
    csat: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    responded_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    commented_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    order: Mapped[Order] = relationship()
    invitation: Mapped[SurveyInvitation | None] = relationship()

    def __repr__(self) -> str:
        return f"<SurveyResponse {self.id} order={self.order_id} nps={self.nps} csat={self.csat}>"
