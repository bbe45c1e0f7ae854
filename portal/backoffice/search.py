"""Staff search: one box for order number, e-mail, customer name or tracking number (and what other areas
add, e.g. an RMA), with filters; prefix matches along indexes, so it stays fast with many orders.

A prefix is matched as a range (`value >= 'abc' AND value < 'abd'`) rather than LIKE: both SQLite and
PostgreSQL answer a range from an ordinary b-tree index, whatever the column's LIKE rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, union
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.orders.models import ORDER_STATUSES, Order, Shipment
from portal.orders.prediction_models import ShipmentRisk

PER_PAGE = 25
MAX_QUERY_LENGTH = 100
MAX_COUNTED = 1000
# Tracking statuses that mean something went wrong with a parcel.
EXCEPTION_STATUSES = ("exception", "failed_attempt", "returned_to_sender")

# Other areas add ways to find an order: a function from the query to a select of order ids (or None when the
# query cannot be one of theirs), e.g. the returns area for RMA numbers.
ORDER_ID_SOURCES: list[Callable[[str], Any]] = []


def prefix_match(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as an index-friendly range."""
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return and_(column >= prefix, column < upper)


@dataclass(frozen=True)
class Filters:
    query: str = ""
    status: str | None = None
    exception: bool = False
    placed_from: datetime | None = None
    placed_until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class SearchPage:
    orders: list[Order]
    total: int
    page: int
    pages: int
    # More than `total` (= MAX_COUNTED) match: the pages cover the newest MAX_COUNTED.
    more: bool = False


def _text_condition(query: str) -> ColumnElement[bool]:
    """The order matches the query on any identifier: a UNION of one index lookup per identifier (an OR of
    them in one WHERE would make the database read every order)."""
    variants = sorted({query, query.upper()})
    lowered = query.lower()
    lookups: list[Any] = [
        select(Order.id).where(or_(*(prefix_match(Order.number, variant) for variant in variants))),
        select(Order.id).where(prefix_match(Order.email, lowered)),
        select(Order.id).where(prefix_match(func.lower(Order.customer_name), lowered)),
        select(Shipment.order_id).where(
            or_(*(prefix_match(Shipment.tracking_number, variant) for variant in variants))
        ),
    ]
    for source in ORDER_ID_SOURCES:
        ids = source(query)
        if ids is not None:
            lookups.append(ids)
    return Order.id.in_(union(*lookups))


def _conditions(filters: Filters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.query:
        conditions.append(_text_condition(filters.query))
    if filters.status:
        conditions.append(Order.status == filters.status if filters.status in ORDER_STATUSES else false())
    if filters.exception:
        # Both sides are read along their own indexes (shipment status; the risk flags), never per order.
        troubled = select(Shipment.order_id).where(Shipment.status.in_(EXCEPTION_STATUSES))
        at_risk = (
            select(Shipment.order_id)
            .join(ShipmentRisk, ShipmentRisk.shipment_id == Shipment.id)
            .where(or_(ShipmentRisk.stalled, ShipmentRisk.late))
        )
        conditions.append(Order.id.in_(troubled.union(at_risk)))
    if filters.placed_from is not None:
        conditions.append(Order.placed_at >= filters.placed_from)
    if filters.placed_until is not None:
        conditions.append(Order.placed_at < filters.placed_until)
    return conditions


def search_orders(filters: Filters, page: int = 1, per_page: int | None = None) -> SearchPage:
    """One page of matching orders, newest first, with the total (two statements plus the parcels)."""
    per_page = per_page or PER_PAGE
    conditions = _conditions(filters)
    # Counting stops past MAX_COUNTED: "more than 1,000" is all anyone needs, and a short prefix stays fast.
    matching = select(Order.id).where(*conditions).limit(MAX_COUNTED + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(matching)) or 0
    pages = max(1, -(-min(total, MAX_COUNTED) // per_page))
    page = min(max(1, page), pages)
    orders = db.session.scalars(
        select(Order)
        .where(*conditions)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
        .options(selectinload(Order.shipments))
    ).all()
    return SearchPage(list(orders), min(total, MAX_COUNTED), page, pages, more=total > MAX_COUNTED)
