"""Read-side queries for the order pages: a fixed number of statements whatever the data size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.orders.models import Order, Shipment
from portal.orders.prediction_models import SHIPMENT_RISK

# Everything the order page shows, in five statements (order, items, shipments with their predicted risk
# joined, their items, their events).
ORDER_PAGE_OPTIONS: tuple[Any, ...] = (
    selectinload(Order.items),
    selectinload(Order.shipments).selectinload(Shipment.items),
    selectinload(Order.shipments).selectinload(Shipment.events),
    selectinload(Order.shipments).joinedload(SHIPMENT_RISK),
)

ORDER_LIST_OPTIONS: tuple[Any, ...] = (
    selectinload(Order.items),
    selectinload(Order.shipments),
)


def with_page_rows(order: Order) -> Order:
    """The order with everything its page shows loaded (the page cache loads the bare row first)."""
    if "shipments" in inspect(order).dict:
        return order
    return db.session.scalars(
        select(Order)
        .where(Order.id == order.id)
        .options(*ORDER_PAGE_OPTIONS)
        .execution_options(populate_existing=True)
    ).one()


def count_orders_of_customer(customer_id: int) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(Order).where(Order.customer_id == customer_id))
        or 0
    )


def orders_of_customer(customer_id: int, page: int, per_page: int) -> list[Order]:
    """One page of a customer's orders, newest first."""
    orders = db.session.scalars(
        select(Order)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(*ORDER_LIST_OPTIONS)
    ).all()
    return list(orders)
