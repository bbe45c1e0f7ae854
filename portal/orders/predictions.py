"""Predictive delivery: transit times from the shop's own deliveries, predicted windows, parcels at risk.

`refresh_predictions()` (the periodic job and `flask portal refresh-predictions`) does everything:

1. `rebuild_lanes`: for every parcel delivered within PREDICTION_WINDOW_DAYS, the business days from the
   handover ("shipped") and from the first event of each status to the delivery, and the hours without news
   after each event, counted per lane at four levels: carrier + service + country + postal prefix, then
   without the prefix, without the country, without the service.
2. `evaluate_parcels`: for every open parcel, the lane (the most specific level with at least
   PREDICTION_MIN_PARCELS parcels) for the status of its latest event gives the 20th–80th percentile of the
   remaining business days; the parcel is *stalled* after longer without news than the lane's 95th
   percentile gap for that status (at least PREDICTION_STALL_FLOOR_HOURS), and *late* when the predicted
   window ends after the promised one or the promised one has passed. The first flag of a parcel writes the
   delivery_exception message once; flags clear when news arrives or the parcel is delivered.

Business days are counted in DEFAULT_TIMEZONE's calendar, skipping weekends and DELIVERY_HOLIDAYS. Page views
only read the stored results.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import joinedload, selectinload

from portal import clock
from portal.extensions import db
from portal.orders import signals
from portal.orders.calendar import add_business_days, business_days_between, holidays_from, next_business_day
from portal.orders.models import Order, Shipment, TrackingEvent
from portal.orders.prediction_models import ANY, SHIPMENT_RISK, LaneStatistic, ShipmentRisk

HANDOVER = "shipped"
FINAL_STATUSES = ("delivered", "returned_to_sender")
REFRESH_JOB_ID = "refresh-predictions"
_THROTTLE_KEY = "portal:predictions:refresh-tick"
_CHUNK = 500
# The predicted window as times of day in the destination's calendar (like the shops' promised windows).
_WINDOW_OPENS, _WINDOW_CLOSES = time(8, 0), time(20, 0)

LaneKey = tuple[str, str, str, str]


def percentile(counts: Counter[int], share: float) -> int:
    """Nearest-rank percentile (0 < share <= 1) of a histogram of whole numbers."""
    total = sum(counts.values())
    if total == 0:
        raise ValueError("percentile of no values")
    rank = max(1, math.ceil(share * total - 1e-9))
    seen = 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    return max(counts)


# --- settings -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    window_days: int
    min_parcels: int
    stall_floor_hours: int
    postal_prefix: int
    holidays: frozenset[date]
    zone: ZoneInfo

    @classmethod
    def current(cls) -> Settings:
        config = current_app.config
        return cls(
            window_days=int(config["PREDICTION_WINDOW_DAYS"]),
            min_parcels=max(1, int(config["PREDICTION_MIN_PARCELS"])),
            stall_floor_hours=int(config["PREDICTION_STALL_FLOOR_HOURS"]),
            postal_prefix=max(0, int(config["PREDICTION_POSTAL_PREFIX"])),
            holidays=holidays_from(config["DELIVERY_HOLIDAYS"]),
            zone=ZoneInfo(config["DEFAULT_TIMEZONE"]),
        )

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()


def lane_chain(
    carrier: str, service: str | None, country: str, postal_code: str, prefix: int
) -> list[LaneKey]:
    """The lanes of a parcel from the most specific to the coarsest."""
    carrier = carrier.strip().lower()
    service_key = (service or "").strip().lower()
    country = country.strip().upper()
    area = postal_code.replace(" ", "").upper()[:prefix] if prefix else ""
    chain: list[LaneKey] = []
    if area:
        chain.append((carrier, service_key, country, area))
    chain += [
        (carrier, service_key, country, ANY),
        (carrier, service_key, ANY, ANY),
        (carrier, ANY, ANY, ANY),
    ]
    return chain


def describe_lane(key: LaneKey) -> str:
    return "/".join(part or "-" for part in key)


# --- the model ----------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    transit: Counter[int]
    gaps: Counter[int]
    with_promise: int = 0
    on_time: int = 0


def _delivered_shipments(cutoff: datetime) -> Any:
    return (
        select(
            Shipment.id,
            Shipment.carrier,
            Shipment.service,
            Shipment.shipped_at,
            Shipment.delivered_at,
            Shipment.promised_latest,
            Order.ship_country,
            Order.ship_postal_code,
        )
        .join(Order, Order.id == Shipment.order_id)
        .where(Shipment.status == "delivered", Shipment.delivered_at >= cutoff)
    )


def _events_by_shipment(cutoff: datetime) -> Iterator[tuple[int, list[tuple[str, datetime]]]]:
    """(shipment id, [(status, occurred_at)] in time order) for the delivered parcels, streamed."""
    statement = (
        select(TrackingEvent.shipment_id, TrackingEvent.status, TrackingEvent.occurred_at)
        .join(Shipment, Shipment.id == TrackingEvent.shipment_id)
        .where(Shipment.status == "delivered", Shipment.delivered_at >= cutoff)
        .order_by(TrackingEvent.shipment_id, TrackingEvent.occurred_at, TrackingEvent.id)
        .execution_options(yield_per=10_000)
    )
    current: int | None = None
    events: list[tuple[str, datetime]] = []
    for shipment_id, status, occurred_at in db.session.execute(statement):
        if shipment_id != current:
            if current is not None:
                yield current, events
            current, events = shipment_id, []
        events.append((status, occurred_at))
    if current is not None:
        yield current, events


def rebuild_lanes(now: datetime | None = None, settings: Settings | None = None) -> int:
    """Recompute every lane's statistics from the deliveries of the rolling window; returns the lane count."""
    now = now or clock.now()
    settings = settings or Settings.current()
    cutoff = now - timedelta(days=settings.window_days)
    shipments = {row.id: row for row in db.session.execute(_delivered_shipments(cutoff))}
    tallies: dict[tuple[LaneKey, str], _Tally] = defaultdict(lambda: _Tally(Counter(), Counter()))
    seen: set[int] = set()
    for shipment_id, events in _events_by_shipment(cutoff):
        seen.add(shipment_id)
        row = shipments.get(shipment_id)
        if row is not None:
            _tally_shipment(row, events, settings, tallies)
    for shipment_id, row in shipments.items():
        if shipment_id not in seen:
            _tally_shipment(row, [], settings, tallies)

    db.session.execute(delete(LaneStatistic))
    rows = []
    for (key, status), tally in tallies.items():
        if not tally.transit:
            continue
        rows.append(
            {
                "carrier": key[0],
                "service": key[1],
                "country": key[2],
                "area": key[3],
                "from_status": status,
                "parcels": sum(tally.transit.values()),
                "p20": percentile(tally.transit, 0.2),
                "p50": percentile(tally.transit, 0.5),
                "p80": percentile(tally.transit, 0.8),
                "p95": percentile(tally.transit, 0.95),
                "gap_p95_hours": float(percentile(tally.gaps, 0.95)) if tally.gaps else None,
                "with_promise": tally.with_promise,
                "on_time": tally.on_time,
                "computed_at": now,
            }
        )
    for start in range(0, len(rows), 1000):
        db.session.execute(LaneStatistic.__table__.insert(), rows[start : start + 1000])
    db.session.flush()
    return len(rows)


def _tally_shipment(
    row: Any,
    events: list[tuple[str, datetime]],
    settings: Settings,
    tallies: dict[tuple[LaneKey, str], _Tally],
) -> None:
    delivered_at: datetime = row.delivered_at
    delivered_day = settings.local_date(delivered_at)
    handover = row.shipped_at or (events[0][1] if events else None)
    samples: dict[str, int] = {}
    gaps: list[tuple[str, int]] = []
    if handover is not None and handover <= delivered_at:
        samples[HANDOVER] = business_days_between(
            settings.local_date(handover), delivered_day, settings.holidays
        )
        if row.shipped_at is not None and events and events[0][1] >= row.shipped_at:
            gaps.append((HANDOVER, _hours(events[0][1] - row.shipped_at)))
    for index, (status, occurred_at) in enumerate(events):
        if status in FINAL_STATUSES or occurred_at > delivered_at:
            continue
        samples.setdefault(
            status, business_days_between(settings.local_date(occurred_at), delivered_day, settings.holidays)
        )
        if index + 1 < len(events):
            gaps.append((status, _hours(events[index + 1][1] - occurred_at)))
    promised = row.promised_latest
    for key in lane_chain(
        row.carrier, row.service, row.ship_country, row.ship_postal_code, settings.postal_prefix
    ):
        for status, days in samples.items():
            tallies[(key, status)].transit[days] += 1
        for status, hours in gaps:
            tallies[(key, status)].gaps[hours] += 1
        if HANDOVER in samples and promised is not None:
            tally = tallies[(key, HANDOVER)]
            tally.with_promise += 1
            tally.on_time += int(delivered_at <= promised)


def _hours(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds() / 3600))


# --- predictions and risk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """What the model says about one open parcel."""

    lane: LaneStatistic | None
    earliest: datetime | None
    latest: datetime | None
    confidence: str | None
    stalled: bool
    late: bool
    reasons: tuple[RiskReason, ...]


@dataclass(frozen=True)
class RiskReason:
    """Why a parcel is at risk, as a code and its values; the back-office words it in the reader's language.

    Codes: "stalled" (hours, status, limit, basis: "lane" for the lane's 95th percentile gap or "floor"),
    "window_ended" (promised: an ISO instant), "predicted_late" (predicted, promised: ISO dates).
    """

    code: str
    values: tuple[tuple[str, str | int], ...]

    def get(self, name: str) -> str | int | None:
        return dict(self.values).get(name)


def encode_reasons(reasons: Iterable[RiskReason]) -> str | None:
    """The reasons as stored in ShipmentRisk.reason: a compact JSON list of {"code": …, values…}."""
    items = [{"code": reason.code, **dict(reason.values)} for reason in reasons]
    return json.dumps(items, separators=(",", ":")) if items else None


def decode_reasons(stored: str | None) -> list[RiskReason] | None:
    """The reasons stored by `encode_reasons`; None for rows written before (English text, shown as it is)."""
    if not stored or not stored.startswith("["):
        return None
    try:
        items = json.loads(stored)
        return [
            RiskReason(str(item["code"]), tuple((key, value) for key, value in item.items() if key != "code"))
            for item in items
        ]
    except (ValueError, TypeError, KeyError):
        return None


def confidence_of(parcels: int, min_parcels: int) -> str:
    """How sure the window is, from the size of the lane it came from."""
    if parcels >= 5 * min_parcels:
        return "high"
    if parcels >= 2 * min_parcels:
        return "medium"
    return "low"


class LaneIndex:
    """Every lane statistic in memory (a few thousand rows at most), looked up along the fallback chain."""

    def __init__(self, rows: Iterable[LaneStatistic], settings: Settings):
        self.settings = settings
        self.rows = {(r.carrier, r.service, r.country, r.area, r.from_status): r for r in rows}

    @classmethod
    def load(cls, settings: Settings) -> LaneIndex:
        return cls(db.session.scalars(select(LaneStatistic)), settings)

    def find(self, shipment: Shipment, status: str) -> LaneStatistic | None:
        """The most specific lane with enough parcels for `status`, or None."""
        order = shipment.order
        for key in lane_chain(
            shipment.carrier,
            shipment.service,
            order.ship_country,
            order.ship_postal_code,
            self.settings.postal_prefix,
        ):
            row = self.rows.get((*key, status))
            if row is not None and row.parcels >= self.settings.min_parcels:
                return row
        return None


def _window_edge(day: date, at: time, settings: Settings) -> datetime:
    return datetime.combine(day, at, tzinfo=settings.zone).astimezone(UTC)


def outlook_of(shipment: Shipment, lanes: LaneIndex, now: datetime) -> Outlook:
    """Predict an open parcel's window and judge whether it is at risk (no database access)."""
    settings = lanes.settings
    status = shipment.status or HANDOVER
    since = shipment.last_event_at if shipment.status else shipment.shipped_at
    lane = lanes.find(shipment, status) if since is not None else None
    earliest = latest = None
    if lane is not None and since is not None:
        today = next_business_day(settings.local_date(now), settings.holidays)
        start = settings.local_date(since)
        first = max(add_business_days(start, lane.p20, settings.holidays), today)
        last = max(add_business_days(start, lane.p80, settings.holidays), first)
        earliest = _window_edge(first, _WINDOW_OPENS, settings)
        latest = _window_edge(last, _WINDOW_CLOSES, settings)
    reasons: list[RiskReason] = []
    stalled = False
    if since is not None:
        gap = lane.gap_p95_hours if lane is not None and lane.gap_p95_hours is not None else 0.0
        limit = max(float(settings.stall_floor_hours), gap)
        silent = (now - since).total_seconds() / 3600
        if silent > limit:
            stalled = True
            basis = "lane" if gap > settings.stall_floor_hours else "floor"
            stall: tuple[tuple[str, str | int], ...] = (
                ("hours", round(silent)),
                ("status", status),
                ("limit", round(limit)),
                ("basis", basis),
            )
            reasons.append(RiskReason("stalled", stall))
    late = False
    promised = shipment.promised_latest
    if promised is not None:
        if now > promised:
            late = True
            reasons.append(RiskReason("window_ended", (("promised", promised.isoformat()),)))
        elif latest is not None and settings.local_date(latest) > settings.local_date(promised):
            late = True
            predicted_day, promised_day = settings.local_date(latest), settings.local_date(promised)
            values = (("predicted", predicted_day.isoformat()), ("promised", promised_day.isoformat()))
            reasons.append(RiskReason("predicted_late", values))
    return Outlook(
        lane=lane,
        earliest=earliest,
        latest=latest,
        confidence=confidence_of(lane.parcels, settings.min_parcels) if lane is not None else None,
        stalled=stalled,
        late=late,
        reasons=tuple(reasons),
    )


@dataclass(frozen=True)
class RefreshSummary:
    lanes: int
    evaluated: int
    flagged: int
    cleared: int
    notified: int

    def __str__(self) -> str:
        return (
            f"{self.lanes} lane statistic(s); {self.evaluated} open parcel(s) evaluated, "
            f"{self.flagged} newly at risk, {self.cleared} cleared, {self.notified} customer(s) told"
        )


def _open_shipments() -> Any:
    return (
        select(Shipment.id)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Shipment.delivered_at.is_(None),
            or_(Shipment.status.is_(None), Shipment.status.not_in(FINAL_STATUSES)),
            Order.status != "cancelled",
        )
        .order_by(Shipment.id)
    )


def evaluate_parcels(now: datetime | None = None, settings: Settings | None = None) -> RefreshSummary:
    """Store the window and risk of every open parcel, tell newly flagged customers, clear the others."""
    now = now or clock.now()
    settings = settings or Settings.current()
    lanes = LaneIndex.load(settings)
    ids = list(db.session.scalars(_open_shipments()))
    flagged = cleared = notified = 0
    for start in range(0, len(ids), _CHUNK):
        shipments = db.session.scalars(
            select(Shipment)
            .where(Shipment.id.in_(ids[start : start + _CHUNK]))
            .options(joinedload(Shipment.order), selectinload(SHIPMENT_RISK))
        ).all()
        for shipment in shipments:
            outlook = outlook_of(shipment, lanes, now)
            change, told = _apply(shipment, outlook, now, settings)
            flagged += change > 0
            cleared += change < 0
            notified += told
        db.session.flush()
    cleared += _clear_closed(now)
    return RefreshSummary(0, len(ids), flagged, cleared, notified)


def _apply(shipment: Shipment, outlook: Outlook, now: datetime, settings: Settings) -> tuple[int, bool]:
    """Store the outlook; (1 newly flagged / -1 cleared / 0, whether the customer was told now)."""
    shipment.predicted_earliest = outlook.earliest
    shipment.predicted_latest = outlook.latest
    risk: ShipmentRisk | None = shipment.risk
    if risk is None:
        risk = ShipmentRisk(shipment_id=shipment.id, parcels=0, stalled=False, late=False, evaluated_at=now)
        shipment.risk = risk
    was_at_risk = risk.stalled or risk.late
    lane = outlook.lane
    risk.lane = (
        describe_lane((lane.carrier, lane.service, lane.country, lane.area)) + f" from {lane.from_status}"
        if lane is not None
        else None
    )
    risk.parcels = lane.parcels if lane is not None else 0
    risk.confidence = outlook.confidence
    risk.stalled, risk.late = outlook.stalled, outlook.late
    risk.reason = encode_reasons(outlook.reasons)
    risk.last_event_at = shipment.last_event_at
    risk.evaluated_at = now
    at_risk = outlook.stalled or outlook.late
    if at_risk and not was_at_risk:
        risk.flagged_at, risk.cleared_at = now, None
        told = False
        if risk.notified_at is None:
            _tell_customer(shipment, outlook, now)
            risk.notified_at = now
            told = True
        return 1, told
    if was_at_risk and not at_risk:
        risk.flagged_at, risk.cleared_at = None, now
        return -1, False
    return 0, False


def _tell_customer(shipment: Shipment, outlook: Outlook, now: datetime) -> None:
    """Announce the flag; the messaging area sends the delivery_exception message saying what happens next."""
    signals.shipment_at_risk.send(shipment, stalled=outlook.stalled)


def _clear_closed(now: datetime) -> int:
    """Clear the flags of parcels that were delivered, returned or cancelled since they were flagged."""
    risks = db.session.scalars(
        select(ShipmentRisk)
        .join(Shipment, Shipment.id == ShipmentRisk.shipment_id)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            or_(ShipmentRisk.stalled, ShipmentRisk.late),
            or_(
                Shipment.delivered_at.is_not(None),
                Shipment.status.in_(FINAL_STATUSES),
                Order.status == "cancelled",
            ),
        )
    ).all()
    for risk in risks:
        risk.stalled = risk.late = False
        risk.reason = None
        risk.flagged_at, risk.cleared_at = None, now
    db.session.flush()
    return len(risks)


def refresh_predictions(now: datetime | None = None) -> RefreshSummary:
    """Rebuild the model and re-evaluate every open parcel (flushes; the caller commits)."""
    now = now or clock.now()
    settings = Settings.current()
    lanes = rebuild_lanes(now, settings)
    summary = evaluate_parcels(now, settings)
    return RefreshSummary(lanes, summary.evaluated, summary.flagged, summary.cleared, summary.notified)


# --- reading (back-office, API) -----------------------------------------------------------------------------


def at_risk_shipments(limit: int = 200) -> list[Shipment]:
    """The parcels flagged at risk, longest flagged first, with their order and risk loaded."""
    return list(
        db.session.scalars(
            select(Shipment)
            .join(ShipmentRisk, ShipmentRisk.shipment_id == Shipment.id)
            .where(or_(ShipmentRisk.stalled, ShipmentRisk.late))
            .order_by(ShipmentRisk.flagged_at, Shipment.id)
            .limit(limit)
            .options(joinedload(Shipment.order), selectinload(SHIPMENT_RISK))
        )
    )


def lane_report(from_status: str = HANDOVER) -> list[LaneStatistic]:
    """Every lane's statistics from one status (default: the handover), biggest lanes first."""
    return list(
        db.session.scalars(
            select(LaneStatistic)
            .where(LaneStatistic.from_status == from_status)
            .order_by(LaneStatistic.parcels.desc(), LaneStatistic.id)
        )
    )


# --- the job ------------------------------------------------------------------------------------------------


def refresh_predictions_job() -> str:
    """RQ job: refresh and commit. Running twice is harmless (flags and messages are written once)."""
    summary = refresh_predictions()
    db.session.commit()
    return str(summary)


def queue_refresh_predictions() -> bool:
    """Queue the refresh job (fixed id) at most every PREDICTION_REFRESH_MINUTES; the worker calls this every
    minute. The throttle lives in Redis so that any number of workers queue it once per period."""
    from portal.queue import PendingJob, enqueue_now, redis_connection

    seconds = max(60, int(current_app.config["PREDICTION_REFRESH_MINUTES"]) * 60)
    if not redis_connection().set(_THROTTLE_KEY, clock.now().isoformat(), nx=True, ex=seconds):
        return False
    return enqueue_now(PendingJob(refresh_predictions_job, (), REFRESH_JOB_ID, queue="default"))
