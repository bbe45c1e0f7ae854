"""Status derivation rules, independent of HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.orders.service import derive_status

T0 = datetime(2026, 10, 12, 8, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], (None, None, None)),
        ([("info_received", at(0))], ("info_received", at(0), None)),
        ([("info_received", at(0)), ("in_transit", at(5))], ("in_transit", at(5), None)),
        ([("in_transit", at(0)), ("delivered", at(5)), ("in_transit", at(6))], ("delivered", at(6), at(5))),
        (
            [("in_transit", at(0)), ("delivered", at(5)), ("returned_to_sender", at(9))],
            ("returned_to_sender", at(9), None),
        ),
        ([("returned_to_sender", at(0)), ("delivered", at(5))], ("delivered", at(5), at(5))),
        (
            [("exception", at(1)), ("failed_attempt", at(2)), ("delivered", at(3))],
            ("delivered", at(3), at(3)),
        ),
    ],
)
def test_derive_status(events: list[tuple[str, datetime]], expected: tuple[object, object, object]) -> None:
    assert derive_status(events) == expected
