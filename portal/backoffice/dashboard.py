"""The shop's post-purchase health over a period, from aggregate SQL (a handful of GROUP BY statements,
whatever the number of orders): orders, parcels, on-time rate, the transit-time distribution per carrier,
messages — and what other areas add through `DASHBOARD_SECTIONS` (returns, survey scores).

Transit time is counted in calendar days (UTC) from the handover to the carrier to the delivery; the
distribution's last bucket holds every parcel of MAX_BUCKET days or more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Integer, case, cast, func, literal_column, select
from sqlalchemy.sql.elements import ColumnElement

from portal.extensions import db
from portal.i18n import current_locale
from portal.messaging.models import MESSAGE_STATUSES, Message
from portal.orders.models import Order, Shipment

MAX_BUCKET = 10
FINAL_STATUSES = ("delivered", "returned_to_sender")


@dataclass(frozen=True)
class Section:
    """A block another area adds to the dashboard: a title and (label, value) rows, formatted already."""

    title: str
    rows: list[tuple[str, str]]
    # Optional chart: (categories, [(series name, values)]) drawn as a bar chart of shares.
    chart: tuple[list[str], list[tuple[str, list[float]]]] | None = None


# Functions from (start, end) to a Section or None, added by other areas (returns, surveys).
DASHBOARD_SECTIONS: list[Callable[[datetime, datetime], Section | None]] = []


@dataclass
class Distribution:
    """Parcels delivered per carrier and number of transit days (0 … MAX_BUCKET+)."""

    counts: dict[str, list[int]] = field(default_factory=dict)

    @property
    def carriers(self) -> list[str]:
        return sorted(self.counts)

    def total(self, carrier: str | None = None) -> int:
        if carrier is not None:
            return sum(self.counts.get(carrier, []))
        return sum(sum(values) for values in self.counts.values())

    def all_carriers(self) -> list[int]:
        totals = [0] * (MAX_BUCKET + 1)
        for values in self.counts.values():
            totals = [a + b for a, b in zip(totals, values, strict=True)]
        return totals

    def shares(self, carrier: str | None = None) -> list[float]:
        """Share (0–1) of the carrier's (or all) delivered parcels in each bucket."""
        values = self.counts.get(carrier, [0] * (MAX_BUCKET + 1)) if carrier else self.all_carriers()
        total = sum(values)
        return [value / total if total else 0.0 for value in values]


@dataclass
class Dashboard:
    start: datetime
    end: datetime
    orders: int
    cancelled: int
    shipped: int
    in_transit: int
    delivered: int
    with_promise: int
    on_time: int
    distribution: Distribution
    messages: dict[str, int]
    sections: list[Section]
    # HTML drawn from these figures (in the language they were read for), kept with them so that a cached
    # board is rendered once: name -> HTML (portal/backoffice/report_views.py).
    rendered: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.with_promise if self.with_promise else None


def transit_days() -> ColumnElement[Any]:
    """Calendar days (UTC) from handover to delivery, as SQL for the current database."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(
            func.date(func.timezone("UTC", Shipment.delivered_at))
            - func.date(func.timezone("UTC", Shipment.shipped_at)),
            Integer,
        )
    return cast(
        func.julianday(func.date(Shipment.delivered_at)) - func.julianday(func.date(Shipment.shipped_at)),
        Integer,
    )


def _deliveries(start: datetime, end: datetime) -> tuple[Distribution, int, int, int]:
    """(distribution, delivered, with a promised window, on time) in one pass over the period's deliveries."""
    days = transit_days()
    bucket = case(
        (Shipment.shipped_at.is_(None), -1), (days >= MAX_BUCKET, MAX_BUCKET), (days < 0, 0), else_=days
    )
    rows = db.session.execute(
        select(
            Shipment.carrier,
            bucket.label("bucket"),
            func.count(),
            func.sum(case((Shipment.promised_latest.is_not(None), 1), else_=0)),
            func.sum(case((Shipment.delivered_at <= Shipment.promised_latest, 1), else_=0)),
        )
        .where(Shipment.delivered_at >= start, Shipment.delivered_at < end)
        .group_by(Shipment.carrier, literal_column("bucket"))
    ).all()
    distribution = Distribution()
    delivered = with_promise = on_time = 0
    for carrier, day, parcels, promised, in_time in rows:
        delivered += int(parcels)
        with_promise += int(promised or 0)
        on_time += int(in_time or 0)
        if int(day) >= 0:  # a parcel without a handover time counts as delivered, not in the distribution
            distribution.counts.setdefault(carrier, [0] * (MAX_BUCKET + 1))[int(day)] += int(parcels)
    return distribution, delivered, with_promise, on_time


def build(start: datetime, end: datetime) -> Dashboard:
    """Every figure for [start, end)."""
    orders, cancelled = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((Order.status == "cancelled", 1), else_=0)), 0),
        ).where(Order.placed_at >= start, Order.placed_at < end)
    ).one()
    shipped, in_transit = db.session.execute(
        select(
            func.count(),
            func.coalesce(
                func.sum(
                    case(
                        (
                            Shipment.delivered_at.is_(None)
                            & (func.coalesce(Shipment.status, "") != "returned_to_sender"),
                            1,
                        ),
                        else_=0,
                    )
                ),
                0,
            ),
        ).where(Shipment.shipped_at >= start, Shipment.shipped_at < end)
    ).one()
    distribution, delivered, with_promise, on_time = _deliveries(start, end)
    # status IN (…) lets the (status, due_at) index answer the range on due_at.
    messages = {
        status: int(count)
        for status, count in db.session.execute(
            select(Message.status, func.count())
            .where(Message.status.in_(MESSAGE_STATUSES), Message.due_at >= start, Message.due_at < end)
            .group_by(Message.status)
        )
    }
    sections = [
        section for section in (source(start, end) for source in DASHBOARD_SECTIONS) if section is not None
    ]
    return Dashboard(
        start=start,
        end=end,
        orders=int(orders),
        cancelled=int(cancelled),
        shipped=int(shipped),
        in_transit=int(in_transit),
        delivered=int(delivered),
        with_promise=int(with_promise),
        on_time=int(on_time),
        distribution=distribution,
        messages=messages,
        sections=sections,
    )


_CACHE_ENTRIES = 32


def cached_build(start: datetime, end: datetime) -> Dashboard:
    """`build`, reused by this process for DASHBOARD_CACHE_SECONDS per period and language.

    The figures read the whole period's rows (a year of parcels, the outbox), so several staff opening the
    dashboard, or one clicking around, do not each pay for it; a minute-old figure serves them as well.
    """
    ttl = float(current_app.config["DASHBOARD_CACHE_SECONDS"])
    if ttl <= 0:
        return build(start, end)
    cache: dict[tuple[datetime, datetime, str], tuple[float, Dashboard]] = current_app.extensions.setdefault(
        "dashboard_cache", {}
    )
    key = (start, end, current_locale())
    now = time.monotonic()
    found = cache.get(key)
    if found is not None and found[0] > now:
        return found[1]
    board = build(start, end)
    for stale in [name for name, (expires, _) in cache.items() if expires <= now]:
        del cache[stale]
    while len(cache) >= _CACHE_ENTRIES:
        del cache[min(cache, key=lambda name: cache[name][0])]
    cache[key] = (now + ttl, board)
    return board
