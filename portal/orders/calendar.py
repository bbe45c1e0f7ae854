"""The delivery calendar: business days are Monday to Friday except the listed holidays (DELIVERY_HOLIDAYS).

One set of rules for the preferred delivery days offered with the instructions and for predicted windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any


def holidays_from(setting: Any) -> frozenset[date]:
    """The DELIVERY_HOLIDAYS setting as dates (it may still be the environment's "2026-12-25,2026-12-26")."""
    if isinstance(setting, str):
        setting = [part.strip() for part in setting.split(",") if part.strip()]
    return frozenset(date.fromisoformat(day) if isinstance(day, str) else day for day in setting or ())


def is_business_day(day: date, holidays: Iterable[date] = ()) -> bool:
    return day.weekday() < 5 and day not in holidays


def next_business_day(day: date, holidays: Iterable[date] = ()) -> date:
    """`day` itself if it is a business day, else the first one after it."""
    holidays = frozenset(holidays)
    while not is_business_day(day, holidays):
        day += timedelta(days=1)
    return day


def add_business_days(start: date, days: int, holidays: Iterable[date] = ()) -> date:
    """The business day `days` business days after `start` (0: `start` or the next business day)."""
    holidays = frozenset(holidays)
    if days <= 0:
        return next_business_day(start, holidays)
    day = start
    for _step in range(days):
        day = next_business_day(day + timedelta(days=1), holidays)
    return day


def business_days_between(start: date, end: date, holidays: Iterable[date] = ()) -> int:
    """Business days after `start` up to and including `end` (Friday → Monday is 1; same day is 0)."""
    holidays = frozenset(holidays)
    if end <= start:
        return 0
    full_weeks, rest = divmod((end - start).days, 7)
    count = full_weeks * 5
    day = start
    for _step in range(rest):
        day += timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    count -= sum(1 for holiday in holidays if start < holiday <= end and holiday.weekday() < 5)
    return count
