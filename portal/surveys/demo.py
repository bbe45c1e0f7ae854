"""Demo survey answers for `flask portal seed --demo`: invitations and answers for most delivered demo orders.

Deterministic (a random generator seeded per order number) and idempotent (an order that has a response is
left alone). Rows are written directly, as if answered in the past: no webhook or reward for demo data.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.orders.models import Order
from portal.surveys import service
from portal.surveys.models import SurveyResponse

# Score -> weight: a typical shop, mostly happy, some detractors.
_NPS_WEIGHTS = {10: 24, 9: 20, 8: 14, 7: 10, 6: 6, 5: 5, 4: 3, 3: 2, 2: 2, 1: 1, 0: 2}
_COMMENTS = {
    "detractor": (
        "The parcel arrived two days late and nobody told me.",
        "The box was damaged and one item was scratched.",
        "Hard to reach anyone when the delivery failed.",
    ),
    "passive": (
        "Fine, but delivery took longer than promised.",
        "Good products, the packaging could use less plastic.",
    ),
    "promoter": (
        "Fast delivery and the tracking was spot on.",
        "Love the quality, will order again!",
        "The courier left it exactly where I asked.",
    ),
}


def seed_survey_answers(now: datetime) -> int:
    """Invite every delivered demo order whose survey would have gone out by `now`; most of them answer.

    Returns how many responses were written. Flushes, never commits.
    """
    orders = db.session.scalars(
        select(Order)
        .options(selectinload(Order.shipments), selectinload(Order.customer))
        .order_by(Order.number)
    ).all()
    answered = set(db.session.scalars(select(SurveyResponse.order_id)))
    written = 0
    for order in orders:
        if order.id in answered or not service.is_delivered(order):
            continue
        delivered_at = max(s.delivered_at or s.updated_at for s in order.shipments)
        invited_at = delivered_at + timedelta(days=7)
        if invited_at > now:
            continue
        rng = random.Random(f"survey-{order.number}")
        invitation, _token = service.invite(order, invited_at)
        if rng.random() < 0.25:  # not everyone answers
            continue
        answered_at = min(now, invited_at + timedelta(hours=rng.uniform(0.2, 40)))
        nps = rng.choices(list(_NPS_WEIGHTS), weights=list(_NPS_WEIGHTS.values()))[0]
        csat = max(1, min(5, round(nps / 2.2 + rng.uniform(0, 1.2))))
        response = SurveyResponse(
            order_id=order.id,
            invitation_id=invitation.id,
            customer_id=order.customer_id,
            nps=nps,
            csat=csat,
            responded_at=answered_at,
            answered_at=answered_at,
            created_at=answered_at,
            updated_at=answered_at,
        )
        if rng.random() < 0.5:
            response.comment = rng.choice(_COMMENTS[service.nps_band(nps)])
            response.commented_at = answered_at
        invitation.responded_at = answered_at
        db.session.add(response)
        written += 1
    db.session.flush()
    return written
