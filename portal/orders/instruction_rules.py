"""When delivery instructions may change (the cut-off) and which delivery days may be chosen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.orders import calendar
from portal.orders.calendar import holidays_from
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Shipment

# Once a parcel is in one of these states the carrier no longer takes instructions for it.
CLOSED_STATUSES: dict[str, LazyString] = {
    "out_for_delivery": _l(
        "The parcel is already out for delivery, so its instructions can no longer change."
    ),
    "delivered": _l("The parcel has been delivered."),
    "available_for_pickup": _l(
        "The parcel is waiting at a pickup point, so it will not be delivered to you."
    ),
    "returned_to_sender": _l("The parcel is on its way back to us."),
    # Carriers report lost and damaged parcels as exceptions; what happens next is up to customer service.
    "exception": _l(
        "The carrier has reported a problem with this parcel. Please contact us if you need to change "
        "the delivery."
    ),
}


@dataclass(frozen=True)
class InstructionRules:
    """The settings the rules depend on (from the app config), passed explicitly to every operation."""

    cutoff: time
    window_days: int
    holidays: frozenset[date]
    timezone: ZoneInfo

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> InstructionRules:
        cutoff = config["DELIVERY_INSTRUCTIONS_CUTOFF"]
        return cls(
            cutoff=time.fromisoformat(cutoff) if isinstance(cutoff, str) else cutoff,
            window_days=int(config["DELIVERY_DATE_WINDOW_DAYS"]),
            holidays=holidays_from(config["DELIVERY_HOLIDAYS"]),
            timezone=ZoneInfo(config["DEFAULT_TIMEZONE"]),
        )


@dataclass(frozen=True)
class EditWindow:
    """Whether the instructions may change now, why not, and which delivery dates may be chosen."""

    is_open: bool
    reason: LazyString | None
    allowed_dates: tuple[date, ...]
    closes_at: datetime | None


def _local_date(moment: datetime, rules: InstructionRules) -> date:
    return moment.astimezone(rules.timezone).date()


def _cutoff_on(day: date, rules: InstructionRules) -> datetime:
    return datetime.combine(day, rules.cutoff, tzinfo=rules.timezone)


def is_business_day(day: date, rules: InstructionRules) -> bool:
    return calendar.is_business_day(day, rules.holidays)


def allowed_delivery_dates(shipment: Shipment, rules: InstructionRules, now: datetime) -> tuple[date, ...]:
    """Business days from the earliest promised date to at most `window_days` later, without the days whose
    cut-off has passed. None without a promised date."""
    if shipment.promised_earliest is None:
        return ()
    first = _local_date(shipment.promised_earliest, rules)
    last = first + timedelta(days=rules.window_days)
    today = _local_date(now, rules)
    soonest = today if now < _cutoff_on(today, rules) else today + timedelta(days=1)
    day = max(first, soonest)
    dates = []
    while day <= last:
        if is_business_day(day, rules):
            dates.append(day)
        day += timedelta(days=1)
    return tuple(dates)


def expected_delivery_day(
    shipment: Shipment, current: DeliveryInstructionVersion | None, rules: InstructionRules
) -> date | None:
    """The chosen date if there is one, else the first day of the predicted (or else promised) window."""
    if current is not None and current.preferred_date is not None:
        return current.preferred_date
    start = shipment.predicted_earliest or shipment.promised_earliest
    return _local_date(start, rules) if start is not None else None


def edit_window(
    shipment: Shipment, current: DeliveryInstructionVersion | None, rules: InstructionRules, now: datetime
) -> EditWindow:
    """May the instructions change at `now`? Closed once the parcel is out for delivery (or delivered,
    returned, at a pickup point, reported lost) and after the cut-off time on the expected delivery day."""
    if shipment.order.status == "cancelled":
        return EditWindow(False, _l("The order was cancelled."), (), None)
    status_reason = CLOSED_STATUSES.get(shipment.status or "")
    if status_reason is None and shipment.delivered_at is not None:
        status_reason = CLOSED_STATUSES["delivered"]
    if status_reason is not None:
        return EditWindow(False, status_reason, (), None)
    delivery_day = expected_delivery_day(shipment, current, rules)
    closes_at = _cutoff_on(delivery_day, rules) if delivery_day is not None else None
    if closes_at is not None and now >= closes_at:
        reason = _l(
            "Changes were possible until %(time)s on the day of delivery; the carrier has planned the "
            "delivery since.",
            time=rules.cutoff.strftime("%H:%M"),
        )
        return EditWindow(False, reason, (), closes_at)
    return EditWindow(True, None, allowed_delivery_dates(shipment, rules, now), closes_at)
