"""Which items of an order may be returned, how many, until when, and if not, why not.

An item can be returned when it is marked returnable, its shipment was delivered, the return window
(RETURN_WINDOW_DAYS, counted from the latest delivery of that item) is open, and some of the delivered
quantity is not already held by an open or finished return.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import shop_settings
from portal.extensions import db
from portal.orders.models import Order, OrderItem
from portal.returns.models import HOLDING_STATUSES, Return, ReturnLine

# Why an item cannot be returned (stable codes; the pages translate them).
NOT_RETURNABLE = "not_returnable"
ORDER_CANCELLED = "order_cancelled"
NOT_DELIVERED = "not_delivered"
WINDOW_CLOSED = "window_closed"
ALREADY_RETURNED = "already_returned"


@dataclass(frozen=True)
class ItemEligibility:
    item: OrderItem
    delivered_quantity: int
    held_quantity: int
    # The end of the return window (None until the item is delivered).
    deadline: datetime | None
    blocked_by: str | None

    @property
    def remaining(self) -> int:
        """How many may be returned now (0 when blocked)."""
        if self.blocked_by is not None:
            return 0
        return max(0, self.delivered_quantity - self.held_quantity)

    @property
    def eligible(self) -> bool:
        return self.remaining > 0


def window_days() -> int:
    return int(shop_settings.get("RETURN_WINDOW_DAYS"))


def held_quantities(order_id: int) -> dict[int, int]:
    """How many of each order item (by id) open or finished returns of the order hold."""
    rows = db.session.execute(
        select(ReturnLine.order_item_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order_id, Return.status.in_(HOLDING_STATUSES))
        .group_by(ReturnLine.order_item_id)
    )
    return {item_id: int(total or 0) for item_id, total in rows}


def _deliveries(order: Order) -> dict[int, tuple[int, datetime]]:
    """Per order item: the quantity in delivered shipments and the latest of their delivery times."""
    found: dict[int, tuple[int, datetime]] = {}
    for shipment in order.shipments:
        if shipment.status != "delivered" or shipment.delivered_at is None:
            continue
        for line in shipment.items:
            quantity, latest = found.get(line.order_item_id, (0, shipment.delivered_at))
            found[line.order_item_id] = (quantity + line.quantity, max(latest, shipment.delivered_at))
    return found


def order_eligibility(
    order: Order, now: datetime, held: dict[int, int] | None = None
) -> list[ItemEligibility]:
    """Each item of the order with what may be returned of it as of `now`, in the order's item order."""
    if held is None:
        held = held_quantities(order.id)
    deliveries = _deliveries(order)
    window = timedelta(days=window_days())
    result = []
    for item in order.items:
        delivered, delivered_at = deliveries.get(item.id, (0, None))
        deadline = delivered_at + window if delivered_at is not None else None
        held_quantity = held.get(item.id, 0)
        blocked: str | None = None
        if not item.returnable:
            blocked = NOT_RETURNABLE
        elif order.status == "cancelled":
            blocked = ORDER_CANCELLED
        elif deadline is None:
            blocked = NOT_DELIVERED
        elif now > deadline:
            blocked = WINDOW_CLOSED
        elif held_quantity >= delivered:
            blocked = ALREADY_RETURNED
        result.append(ItemEligibility(item, delivered, held_quantity, deadline, blocked))
    return result


def fully_returned(order: Order, statuses: Iterable[str]) -> bool:
    """True when returns in `statuses` hold every unit of every item of the order."""
    if not order.items:
        return False
    rows = db.session.execute(
        select(ReturnLine.order_item_id, func.sum(ReturnLine.quantity))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.order_id == order.id, Return.status.in_(tuple(statuses)))
        .group_by(ReturnLine.order_item_id)
    )
    held = {item_id: int(total or 0) for item_id, total in rows}
    return all(held.get(item.id, 0) >= item.quantity for item in order.items)
