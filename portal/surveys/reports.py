"""Survey figures for staff: NPS for a period with its counts, the weekly NPS trend, the CSAT distribution,
the comments, and the CSV export (spreadsheet formulas neutralised).

NPS = % promoters (9–10) − % detractors (0–6) of the NPS answers sent in the period, from −100 to 100, rounded
half away from zero. Periods are whole days in the shop's time zone (DEFAULT_TIMEZONE); weeks start on Monday.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import case, func, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.orders.models import Order
from portal.surveys.models import SurveyResponse
from portal.surveys.service import band

MAX_PERIOD_DAYS = 366
BANDS = ("detractor", "passive", "promoter")
BAND_SCORES = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
# A cell starting with one of these is a formula (or a way to start one) in spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class NpsSummary:
    promoters: int = 0
    passives: int = 0
    detractors: int = 0

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors

    @property
    def score(self) -> int | None:
        """The NPS (−100…100), None without answers."""
        if not self.total:
            return None
        exact = Decimal(100 * (self.promoters - self.detractors)) / Decimal(self.total)
        return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))

    def percent(self, count: int) -> int:
        if not self.total:
            return 0
        return int((Decimal(100 * count) / Decimal(self.total)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def nps_of(scores: Iterable[int]) -> NpsSummary:
    """The NPS summary of some 0–10 answers."""
    counts = dict.fromkeys(BANDS, 0)
    for score in scores:
        counts["detractor" if score <= 6 else "passive" if score <= 8 else "promoter"] += 1
    return NpsSummary(counts["promoter"], counts["passive"], counts["detractor"])


@dataclass(frozen=True)
class Period:
    """Whole days, `first` to `last` included, in the shop's time zone."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return _local_midnight(self.first)

    @property
    def end(self) -> datetime:
        return _local_midnight(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def shop_zone() -> ZoneInfo:
    return ZoneInfo(str(current_app.config["DEFAULT_TIMEZONE"]))


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=shop_zone()).astimezone(UTC)


def default_period(today: date) -> Period:
    """The last 12 weeks, from a Monday to today."""
    first = today - timedelta(days=today.weekday()) - timedelta(weeks=11)
    return Period(first, today)


def period_nps(period: Period) -> NpsSummary:
    """The NPS of the answers sent in the period, counted in the database."""
    return nps_between(period.start, period.end)


def nps_between(start: datetime, end: datetime) -> NpsSummary:
    """The NPS of the answers sent from `start` (included) to `end` (excluded), e.g. for the dashboard."""
    promoter = func.sum(case((SurveyResponse.nps >= 9, 1), else_=0))
    passive = func.sum(case((SurveyResponse.nps.between(7, 8), 1), else_=0))
    detractor = func.sum(case((SurveyResponse.nps <= 6, 1), else_=0))
    row = db.session.execute(
        select(promoter, passive, detractor).where(
            SurveyResponse.nps.is_not(None),
            SurveyResponse.answered_at >= start,
            SurveyResponse.answered_at < end,
        )
    ).one()
    return NpsSummary(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


@dataclass(frozen=True)
class Week:
    starts_on: date
    nps: NpsSummary


def weekly_nps(period: Period) -> list[Week]:
    """The NPS of each week (Monday to Sunday, shop time) that overlaps the period, empty weeks included."""
    zone = shop_zone()
    first_monday = period.first - timedelta(days=period.first.weekday())
    scores: dict[date, list[int]] = {}
    rows = db.session.execute(
        select(SurveyResponse.answered_at, SurveyResponse.nps)
        .where(
            SurveyResponse.nps.is_not(None),
            SurveyResponse.answered_at >= period.start,
            SurveyResponse.answered_at < period.end,
        )
        .execution_options(yield_per=1000)
    )
    for answered_at, nps in rows:
        assert answered_at is not None and nps is not None  # filtered by the query
        local = answered_at.astimezone(zone).date()
        scores.setdefault(local - timedelta(days=local.weekday()), []).append(nps)
    weeks = []
    monday = first_monday
    while monday <= period.last:
        weeks.append(Week(monday, nps_of(scores.get(monday, ()))))
        monday += timedelta(weeks=1)
    return weeks


def csat_distribution(period: Period) -> dict[int, int]:
    """How many answers gave each CSAT score (1–5) in the period (by the first answer's time)."""
    counts = dict(
        db.session.execute(
            select(SurveyResponse.csat, func.count())
            .where(
                SurveyResponse.csat.is_not(None),
                SurveyResponse.responded_at >= period.start,
                SurveyResponse.responded_at < period.end,
            )
            .group_by(SurveyResponse.csat)
        ).all()
    )
    return {score: int(counts.get(score, 0)) for score in range(1, 6)}


def _filtered(period: Period, band_name: str | None, score: int | None) -> Any:
    query = select(SurveyResponse).where(
        SurveyResponse.responded_at >= period.start, SurveyResponse.responded_at < period.end
    )
    if band_name in BAND_SCORES:
        low, high = BAND_SCORES[band_name]
        query = query.where(SurveyResponse.nps.between(low, high))
    if score is not None:
        query = query.where(SurveyResponse.nps == score)
    return query


def comments(
    period: Period, band_name: str | None = None, score: int | None = None, page: int = 1, per_page: int = 50
) -> tuple[list[SurveyResponse], int]:
    """Commented responses of the period, newest first, optionally of one band or NPS score; and how many."""
    query = _filtered(period, band_name, score).where(SurveyResponse.comment.is_not(None))
    total = int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    found = db.session.scalars(
        query.options(joinedload(SurveyResponse.order))
        .order_by(SurveyResponse.responded_at.desc(), SurveyResponse.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return list(found), total


def neutralise(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, made inert with a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


CSV_HEADER = (
    "order_number",
    "customer",
    "email",
    "nps",
    "band",
    "csat",
    "comment",
    "responded_at",
    "answered_at",
    "rated_at",
)


def export_csv(period: Period, band_name: str | None = None, score: int | None = None) -> Iterator[str]:
    """The period's responses as CSV text, a chunk of rows at a time (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    query = (
        _filtered(period, band_name, score)
        .join(Order, Order.id == SurveyResponse.order_id)
        .add_columns(Order.number, Order.email)
        .order_by(SurveyResponse.responded_at, SurveyResponse.id)
        .execution_options(yield_per=500)
    )
    for count, (response, number, email) in enumerate(db.session.execute(query), start=1):
        cells = (
            number,
            "account" if response.customer_id is not None else "guest",
            email,
            response.nps,
            band(response) if response.nps is not None else "",
            response.csat,
            response.comment or "",
            _iso(response.responded_at),
            _iso(response.answered_at),
            _iso(response.rated_at),
        )
        writer.writerow([neutralise(cell) for cell in cells])
        if count % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""
