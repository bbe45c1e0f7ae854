"""The demo shop's return: the demo shopper sends back one item of their latest delivered order."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import clock
from portal.accounts.models import User
from portal.audit import Actor
from portal.extensions import db
from portal.orders.models import Order, Shipment
from portal.returns import eligibility
from portal.returns.service import LineRequest, ReturnRequest, find_by_idempotency_key, request_return

DEMO_KEY = "demo-return-000000000001"


def seed_demo_return(shopper_email: str) -> str | None:
    """Create the demo return once (same key every run); its RMA, or None when no order can be returned."""
    existing = find_by_idempotency_key(DEMO_KEY)
    if existing is not None:
        return existing.rma
    user = db.session.scalar(select(User).where(User.email == shopper_email))
    if user is None:
        return None
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == user.id)
        .order_by(Order.placed_at.desc())
        .options(selectinload(Order.items), selectinload(Order.shipments).selectinload(Shipment.items))
    )
    now = clock.now()
    for order in orders:
        returnable = [found for found in eligibility.order_eligibility(order, now) if found.eligible]
        if not returnable:
            continue
        line = LineRequest(returnable[0].item.id, 1, "too_small")
        request = ReturnRequest([line], "store_credit", "label", DEMO_KEY)
        item, _ = request_return(
            order, request, Actor.user(user.id, user.email), requested_by_user_id=user.id
        )
        return item.rma
    return None
