"""Staff search: one box for order number, e-mail, customer name or tracking number (and what other areas
add, e.g. an RMA), with filters; prefix matches along indexes, so it stays fast with many orders.

A prefix is matched as a range (`value >= 'abc' AND value < 'abd'`) rather than LIKE: both SQLite and
PostgreSQL answer a range from an ordinary b-tree index, whatever the column's LIKE rules.

A search is one statement: the matching orders' (id, placed_at), counted up to MAX_COUNTED + 1, the page's
newest of them joined to their orders and parcels. The statement is built once per process for each
combination of filters, with the values as bound parameters: building and keying a statement of this size
costs more than running it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import BindParameter, ColumnElement, Select, and_, bindparam, func, or_, select, true, union

from portal.extensions import db
from portal.orders.models import ORDER_STATUSES, Order, Shipment
from portal.orders.prediction_models import ShipmentRisk

PER_PAGE = 25
MAX_QUERY_LENGTH = 100
MAX_COUNTED = 1000
# Tracking statuses that mean something went wrong with a parcel.
EXCEPTION_STATUSES = ("exception", "failed_attempt", "returned_to_sender")

Case = Literal["as_typed", "upper", "lower"]


class Prefix:
    """The searched text as bound parameters, in each case identifiers are stored in: `matches(column, case)`
    is the index-friendly range for "column starts with the text" (values filled in by `values`)."""

    CASES: tuple[Case, ...] = ("as_typed", "upper", "lower")

    def __init__(self) -> None:
        self._bounds: dict[Case, tuple[BindParameter[str], BindParameter[str]]] = {
            case: (bindparam(f"{case}_from"), bindparam(f"{case}_until")) for case in self.CASES
        }

    def matches(self, column: Any, case: Case) -> ColumnElement[bool]:
        start, end = self._bounds[case]
        return and_(column >= start, column < end)

    @classmethod
    def values(cls, text: str) -> dict[str, str]:
        cased = {"as_typed": text, "upper": text.upper(), "lower": text.lower()}
        return {
            name: value
            for case in cls.CASES
            for name, value in ((f"{case}_from", cased[case]), (f"{case}_until", _after_prefix(cased[case])))
        }


# Other areas add ways to find an order: a function from the searched text (a `Prefix`) to a select of order
# ids, e.g. the returns area for RMA numbers. It is called once per process (the statement is reused), so it
# must build its condition from the `Prefix`, not decide on the text.
ORDER_ID_SOURCES: list[Callable[[Prefix], Any]] = []


def _after_prefix(prefix: str) -> str:
    """The first string after every string that starts with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefix_match(column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as an index-friendly range."""
    return and_(column >= prefix, column < _after_prefix(prefix))


@dataclass(frozen=True)
class Filters:
    query: str = ""
    status: str | None = None
    exception: bool = False
    placed_from: datetime | None = None
    placed_until: datetime | None = None  # exclusive


@dataclass(frozen=True)
class Parcel:
    tracking_number: str
    status: str | None


@dataclass(frozen=True)
class FoundOrder:
    """What a result row shows of an order."""

    number: str
    customer_name: str
    email: str
    placed_at: datetime
    status: str
    parcels: list[Parcel] = field(default_factory=list)


@dataclass(frozen=True)
class SearchPage:
    orders: list[FoundOrder]
    total: int
    page: int
    pages: int
    # More than `total` (= MAX_COUNTED) match: the pages cover the newest MAX_COUNTED.
    more: bool = False


# --- the statement, once per combination of filters ---------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """Which filters a search uses (their values are bound parameters)."""

    query: bool
    status: bool
    exception: bool
    placed_from: bool
    placed_until: bool
    sources: tuple[Callable[[Prefix], Any], ...]


def _order_conditions(shape: _Shape) -> list[ColumnElement[bool]]:
    """The filters other than the text: conditions on the order row."""
    conditions: list[ColumnElement[bool]] = []
    if shape.status:
        conditions.append(Order.status == bindparam("status"))
    if shape.exception:
        # Both sides are read along their own indexes (shipment status; the risk flags), never per order.
        troubled = select(Shipment.order_id).where(Shipment.status.in_(EXCEPTION_STATUSES))
        at_risk = (
            select(Shipment.order_id)
            .join(ShipmentRisk, ShipmentRisk.shipment_id == Shipment.id)
            .where(or_(ShipmentRisk.stalled, ShipmentRisk.late))
        )
        conditions.append(Order.id.in_(troubled.union(at_risk)))
    if shape.placed_from:
        conditions.append(Order.placed_at >= bindparam("placed_from"))
    if shape.placed_until:
        conditions.append(Order.placed_at < bindparam("placed_until"))
    return conditions


def _text_matches(shape: _Shape, conditions: list[ColumnElement[bool]]) -> Any:
    """(id, placed_at) of the orders matching the text on any identifier (and the other filters): a UNION of
    one index lookup per identifier, each reading only its own matches. An OR of them in one WHERE would make
    the database read every order, and so would `orders.id IN (…)` hash-joined to the orders table."""
    text = Prefix()
    matching = select(Order.id, Order.placed_at)
    lookups: list[Any] = [
        matching.where(
            or_(text.matches(Order.number, "as_typed"), text.matches(Order.number, "upper")), *conditions
        ),
        matching.where(text.matches(Order.email, "lower"), *conditions),
        matching.where(text.matches(func.lower(Order.customer_name), "lower"), *conditions),
        matching.join(Shipment, Shipment.order_id == Order.id).where(
            or_(
                text.matches(Shipment.tracking_number, "as_typed"),
                text.matches(Shipment.tracking_number, "upper"),
            ),
            *conditions,
        ),
    ]
    lookups += [matching.where(Order.id.in_(source(text)), *conditions) for source in shape.sources]
    return union(*lookups)


def _build(shape: _Shape) -> Select[Any]:
    conditions = _order_conditions(shape)
    if shape.query:
        # Found once, read twice (count, page): PostgreSQL materializes a CTE named twice.
        found = _text_matches(shape, conditions).cte("found")
        counted_from, paged_from = found, found
    else:
        # Filters alone: inline, so the page reads the newest orders along the placed_at indexes.
        matching = select(Order.id, Order.placed_at).where(*conditions)
        counted_from, paged_from = matching.subquery("counted_from"), matching.subquery("found")
    # Counting stops past MAX_COUNTED: "more than 1,000" is all anyone needs, and a short prefix stays fast.
    counted = (
        select(func.count().label("total"))
        .select_from(select(counted_from.c.id).limit(bindparam("counted_up_to")).subquery("capped"))
        .subquery("counted")
    )
    newest = (
        select(paged_from.c.id, paged_from.c.placed_at)
        .order_by(paged_from.c.placed_at.desc(), paged_from.c.id.desc())
        .limit(bindparam("per_page"))
        .offset(bindparam("offset"))
        .subquery("newest")
    )
    # One row per parcel of the page's orders (one per order without parcels), or a lone row with the count
    # when the page is empty.
    return (
        select(
            counted.c.total,
            Order.id,
            Order.number,
            Order.customer_name,
            Order.email,
            Order.placed_at,
            Order.status,
            Shipment.tracking_number,
            Shipment.status.label("parcel_status"),
        )
        .select_from(counted)
        .outerjoin(newest, true())
        .outerjoin(Order, Order.id == newest.c.id)
        .outerjoin(Shipment, Shipment.order_id == Order.id)
        .order_by(newest.c.placed_at.desc(), newest.c.id.desc(), Shipment.id)
    )


_STATEMENTS: dict[_Shape, Select[Any]] = {}


def _statement(shape: _Shape) -> Select[Any]:
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = _build(shape)
    return statement


# --- searching ----------------------------------------------------------------------------------------------


def search_orders(filters: Filters, page: int = 1, per_page: int | None = None) -> SearchPage:
    """One page of matching orders, newest first, with the total (one statement)."""
    per_page = per_page or PER_PAGE
    page = max(1, page)
    if filters.status and filters.status not in ORDER_STATUSES:
        return SearchPage([], 0, 1, 1)
    shape = _Shape(
        query=bool(filters.query),
        status=bool(filters.status),
        exception=filters.exception,
        placed_from=filters.placed_from is not None,
        placed_until=filters.placed_until is not None,
        sources=tuple(ORDER_ID_SOURCES) if filters.query else (),
    )
    values: dict[str, Any] = {
        "status": filters.status,
        "placed_from": filters.placed_from,
        "placed_until": filters.placed_until,
        "counted_up_to": MAX_COUNTED + 1,
        "per_page": per_page,
        **(Prefix.values(filters.query) if filters.query else {}),
    }
    while True:
        rows = db.session.execute(_statement(shape), {**values, "offset": (page - 1) * per_page}).all()
        total = int(rows[0].total)
        pages = max(1, -(-min(total, MAX_COUNTED) // per_page))
        if page <= pages:
            break
        page = pages  # past the last page: show the last one (a second statement, only then)
    return SearchPage(_orders(rows), min(total, MAX_COUNTED), page, pages, more=total > MAX_COUNTED)


def _orders(rows: Sequence[Any]) -> list[FoundOrder]:
    """The page's orders from its rows (one per parcel, in order)."""
    orders: dict[int, FoundOrder] = {}
    for row in rows:
        if row.id is None:
            continue
        found = orders.get(row.id)
        if found is None:
            found = orders[row.id] = FoundOrder(
                row.number, row.customer_name, row.email, row.placed_at, row.status
            )
        if row.tracking_number is not None:
            found.parcels.append(Parcel(row.tracking_number, row.parcel_status))
    return list(orders.values())
