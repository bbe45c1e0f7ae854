"""The rules of delivery instructions, through the service: cut-off, allowed dates, versions, stale edits,
permissions and bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.errors import Invalid, NotFound
from portal.extensions import db
from portal.orders import signals
from portal.orders.access import Viewer
from portal.orders.instruction_rules import InstructionRules, allowed_delivery_dates, edit_window
from portal.orders.instructions import (
    InstructionsChanged,
    InstructionsClosed,
    InstructionsData,
    change_delivery_instructions,
    current_version,
)
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Shipment
from portal.webhooks.models import WebhookDelivery
from tests.factories import event_body, order_body, shipment_body
from tests.instructions.conftest import CUTOFF_ON_TUESDAY, MONDAY_MORNING, guest_viewer, order_id
from tests.orders.test_views import shopper

LONDON = ZoneInfo("Europe/London")
NEIGHBOUR = InstructionsData(
    safe_place="neighbour", neighbour_name="Mrs Hudson", neighbour_house_number="221a"
)


def save(
    data: InstructionsData,
    viewer: Viewer,
    rules: InstructionRules,
    *,
    based_on: int = 0,
    now: datetime | None = None,
    tracking_number: str = "T1001",
) -> Any:
    change = change_delivery_instructions(
        "1001",
        tracking_number,
        data,
        based_on=based_on,
        viewer=viewer,
        rules=rules,
        now=now or clock.now(),
    )
    db.session.commit()
    return change


def versions(shipment: Shipment) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(DeliveryInstructionVersion)
        .where(DeliveryInstructionVersion.shipment_id == shipment.id)
    )


def webhook_rows() -> list[WebhookDelivery]:
    return list(db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


# --- allowed dates ------------------------------------------------------------------------------------------


def _shipment_promised(api: Any, earliest: str, tracking_number: str = "T1001") -> Shipment:
    body = shipment_body(promised_delivery={"earliest": earliest, "latest": earliest})
    assert api.put(f"/orders/1001/shipments/{tracking_number}", json=body).status_code in (200, 201)
    db.session.expire_all()
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == tracking_number))
    assert shipment is not None
    return shipment


def test_allowed_dates_are_business_days_in_the_window(parcel: Shipment, rules: InstructionRules) -> None:
    # Promised Tuesday 13th; a 5-day window ends on Sunday 18th, and the weekend is left out.
    assert allowed_delivery_dates(parcel, rules, MONDAY_MORNING) == (
        date(2026, 10, 13),
        date(2026, 10, 14),
        date(2026, 10, 15),
        date(2026, 10, 16),
    )


def test_allowed_dates_skip_weekends_and_listed_holidays(
    parcel: Shipment, api: Any, rules: InstructionRules
) -> None:
    shipment = _shipment_promised(api, "2026-10-16T09:00:00+01:00")  # a Friday
    assert allowed_delivery_dates(shipment, rules, MONDAY_MORNING) == (
        date(2026, 10, 16),
        date(2026, 10, 19),
        date(2026, 10, 20),
        date(2026, 10, 21),
    )
    with_holiday = replace(rules, holidays=frozenset({date(2026, 10, 19)}))
    assert allowed_delivery_dates(shipment, with_holiday, MONDAY_MORNING) == (
        date(2026, 10, 16),
        date(2026, 10, 20),
        date(2026, 10, 21),
    )
    longer = replace(rules, window_days=10)
    assert allowed_delivery_dates(shipment, longer, MONDAY_MORNING)[-1] == date(2026, 10, 26)


def test_days_whose_cutoff_has_passed_are_not_offered(parcel: Shipment, rules: InstructionRules) -> None:
    wednesday_before_six = datetime(2026, 10, 14, 4, 59, tzinfo=UTC)  # 05:59 in London
    assert allowed_delivery_dates(parcel, rules, wednesday_before_six)[0] == date(2026, 10, 14)
    wednesday_after_six = datetime(2026, 10, 14, 5, 0, tzinfo=UTC)
    assert allowed_delivery_dates(parcel, rules, wednesday_after_six)[0] == date(2026, 10, 15)


def test_no_dates_without_a_promised_window(parcel: Shipment, api: Any, rules: InstructionRules) -> None:
    body = shipment_body(promised_delivery=None, items=[{"sku": "CAP-01", "quantity": 1}])
    assert api.put("/orders/1001/shipments/NOPROMISE", json=body).status_code == 201
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "NOPROMISE"))
    assert shipment is not None
    assert allowed_delivery_dates(shipment, rules, MONDAY_MORNING) == ()
    assert edit_window(shipment, None, rules, MONDAY_MORNING).is_open


# --- cut-off ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "is_open"),
    [
        ("info_received", True),
        ("in_transit", True),
        ("failed_attempt", True),
        ("out_for_delivery", False),
        ("delivered", False),
        ("available_for_pickup", False),
        ("returned_to_sender", False),
        ("exception", False),
    ],
)
def test_cutoff_by_status(
    parcel: Shipment, api: Any, rules: InstructionRules, status: str, is_open: bool
) -> None:
    event = event_body(f"s-{status}", status, "2026-10-12T08:00:00Z", tracking_number="T1001")
    assert api.post("/tracking-events", json=event).status_code == 200
    db.session.expire_all()
    window = edit_window(db.session.get(Shipment, parcel.id), None, rules, MONDAY_MORNING)
    assert window.is_open is is_open
    assert (window.reason is None) is is_open
    if not is_open:
        with pytest.raises(InstructionsClosed):
            save(NEIGHBOUR, guest_viewer(), rules)
        db.session.rollback()
        assert versions(parcel) == 0


def test_a_cancelled_order_closes_the_instructions(
    parcel: Shipment, api: Any, rules: InstructionRules
) -> None:
    api.post("/orders/1001/events", json={"type": "cancelled", "occurred_at": "2026-10-12T08:00:00Z"})
    db.session.expire_all()
    window = edit_window(db.session.get(Shipment, parcel.id), None, rules, MONDAY_MORNING)
    assert not window.is_open and "cancelled" in str(window.reason)


def test_cutoff_by_time_on_the_delivery_day(parcel: Shipment, rules: InstructionRules) -> None:
    just_before = CUTOFF_ON_TUESDAY - timedelta(minutes=1)
    assert edit_window(parcel, None, rules, just_before).is_open
    assert edit_window(parcel, None, rules, just_before).closes_at == CUTOFF_ON_TUESDAY
    closed = edit_window(parcel, None, rules, CUTOFF_ON_TUESDAY)
    assert not closed.is_open
    assert "06:00" in str(closed.reason)
    with pytest.raises(InstructionsClosed):
        save(NEIGHBOUR, guest_viewer(), rules, now=CUTOFF_ON_TUESDAY)
    db.session.rollback()
    later_cutoff = replace(rules, cutoff=time(9, 30))
    assert edit_window(parcel, None, later_cutoff, CUTOFF_ON_TUESDAY).is_open


def test_a_chosen_later_day_moves_the_cutoff(parcel: Shipment, rules: InstructionRules) -> None:
    change = save(replace(NEIGHBOUR, preferred_date=date(2026, 10, 15)), guest_viewer(), rules)
    assert edit_window(parcel, change.version, rules, CUTOFF_ON_TUESDAY).is_open
    thursday_six = datetime(2026, 10, 15, 5, 0, tzinfo=UTC)
    assert not edit_window(parcel, change.version, rules, thursday_six).is_open
    # A page opened before the cut-off and sent after it is refused all the same.
    with clock.freeze(thursday_six), pytest.raises(InstructionsClosed):
        save(NEIGHBOUR, guest_viewer(), rules, based_on=1)


def test_the_cutoff_uses_the_configured_time_zone(parcel: Shipment, rules: InstructionRules) -> None:
    tokyo = replace(rules, timezone=ZoneInfo("Asia/Tokyo"))
    # 06:00 on Tuesday in Tokyo is 21:00 UTC on Monday.
    assert not edit_window(parcel, None, tokyo, datetime(2026, 10, 12, 21, 0, tzinfo=UTC)).is_open
    assert edit_window(parcel, None, tokyo, datetime(2026, 10, 12, 20, 59, tzinfo=UTC)).is_open


# --- versions -----------------------------------------------------------------------------------------------


def test_each_change_is_a_new_version_with_who_and_what(parcel: Shipment, rules: InstructionRules) -> None:
    owner = shopper("other.address@example.com")
    parcel.order.customer_id = owner.id  # the order now belongs to this account
    db.session.commit()
    as_owner = Viewer(owner.id, "shopper", label=owner.email)
    first = save(NEIGHBOUR, as_owner, rules)
    assert first.changed and first.version.version == 1
    assert first.version.changed_by_role == "customer"
    assert first.version.changed_by_user_id == owner.id
    assert first.version.changed_fields == ["safe_place", "neighbour_name", "neighbour_house_number"]

    agent = shopper("agent@example.com", role="agent")
    as_agent = Viewer(agent.id, "agent", label=agent.email)
    second = save(replace(NEIGHBOUR, access_code="4711", note="Ring twice"), as_agent, rules, based_on=1)
    assert second.version.version == 2
    assert second.version.changed_by_role == "staff"
    assert second.version.changed_by_label == "agent@example.com"
    assert second.version.changed_fields == ["access_code", "note"]

    # Saving what is already saved makes no version, no webhook.
    again = save(replace(NEIGHBOUR, access_code="4711", note="Ring twice"), as_agent, rules, based_on=2)
    assert not again.changed and again.version.version == 2
    assert versions(parcel) == 2
    assert len(webhook_rows()) == 2

    third = save(InstructionsData(), guest_viewer(), rules, based_on=2)
    assert third.version.version == 3 and third.version.changed_by_role == "guest"
    assert current_version(parcel.id).safe_place is None


def test_a_stale_save_is_refused_and_keeps_the_newer_version(
    parcel: Shipment, rules: InstructionRules
) -> None:
    save(NEIGHBOUR, guest_viewer(), rules)  # someone else saved version 1 while this person was editing
    with pytest.raises(InstructionsChanged) as stale:
        save(InstructionsData(safe_place="porch"), guest_viewer(), rules, based_on=0)
    db.session.rollback()
    assert stale.value.status == 409
    assert stale.value.current is not None and stale.value.current.version == 1
    assert current_version(parcel.id).safe_place == "neighbour"
    assert versions(parcel) == 1
    # Based on the version now shown, the same change goes through.
    assert save(InstructionsData(safe_place="porch"), guest_viewer(), rules, based_on=1).version.version == 2


def test_normalising_drops_what_the_choice_does_not_use(parcel: Shipment, rules: InstructionRules) -> None:
    data = InstructionsData(
        safe_place="porch",
        safe_place_other="behind the bin",
        neighbour_name="Mrs Hudson",
        note="  Line one\r\nLine two  ",
    )
    version = save(data, guest_viewer(), rules).version
    assert version.safe_place_other is None and version.neighbour_name is None
    assert version.note == "Line one\nLine two"


# --- who may ------------------------------------------------------------------------------------------------


def test_someone_elses_parcel_is_not_found(parcel: Shipment, api: Any, rules: InstructionRules) -> None:
    other = shopper("bob@example.com")
    assert api.put("/orders/2002", json=order_body(email="bob@example.com")).status_code == 201
    strangers = [
        Viewer(other.id, "shopper", label=other.email),
        Viewer(),
        Viewer(granted_order_ids=frozenset({order_id("2002")})),
    ]
    for viewer in strangers:
        with pytest.raises(NotFound):
            save(NEIGHBOUR, viewer, rules)
        db.session.rollback()
    with pytest.raises(NotFound):
        save(NEIGHBOUR, guest_viewer(), rules, tracking_number="NOPE")
    db.session.rollback()
    assert versions(parcel) == 0


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (InstructionsData(safe_place="roof"), "safe_place"),
        (InstructionsData(safe_place="neighbour"), "neighbour_name"),
        (InstructionsData(safe_place="neighbour", neighbour_name="  "), "neighbour_name"),
        (InstructionsData(safe_place="other"), "safe_place_other"),
        (InstructionsData(note="x" * 501), "note"),
        (InstructionsData(note="bell\x07"), "note"),
        (InstructionsData(note="nul\x00byte"), "note"),
        (InstructionsData(access_code="12\n34"), "access_code"),
        (InstructionsData(access_code="1" * 51), "access_code"),
        (InstructionsData(safe_place="neighbour", neighbour_name="A\tB"), "neighbour_name"),
        (
            InstructionsData(safe_place="neighbour", neighbour_name="Ann", neighbour_house_number="9" * 21),
            "neighbour_house_number",
        ),
        (InstructionsData(preferred_date=date(2026, 10, 17)), "preferred_date"),  # a Saturday
        (InstructionsData(preferred_date=date(2026, 10, 12)), "preferred_date"),  # before the window
        (InstructionsData(preferred_date=date(2026, 10, 19)), "preferred_date"),  # after the window
    ],
)
def test_bad_input_is_refused_field_by_field(
    parcel: Shipment, rules: InstructionRules, data: InstructionsData, field: str
) -> None:
    with pytest.raises(Invalid) as invalid:
        save(data, guest_viewer(), rules)
    db.session.rollback()
    assert invalid.value.status == 422
    assert field in invalid.value.fields
    assert versions(parcel) == 0
    assert webhook_rows() == []


def test_html_in_the_note_is_kept_as_text(parcel: Shipment, rules: InstructionRules) -> None:
    note = '<script>alert("x")</script> & <b>bold</b>\nsecond line'
    assert save(InstructionsData(note=note), guest_viewer(), rules).version.note == note


def test_the_longest_note_is_fine(parcel: Shipment, rules: InstructionRules) -> None:
    assert len(save(InstructionsData(note="é" * 500), guest_viewer(), rules).version.note) == 500


# --- what others hear ---------------------------------------------------------------------------------------


def test_the_webhook_row_is_written_in_the_same_transaction(
    parcel: Shipment, rules: InstructionRules
) -> None:
    change_delivery_instructions(
        "1001",
        "T1001",
        replace(NEIGHBOUR, access_code="4711"),
        based_on=0,
        viewer=guest_viewer(),
        rules=rules,
        now=clock.now(),
    )
    db.session.rollback()
    assert webhook_rows() == [] and versions(parcel) == 0

    save(replace(NEIGHBOUR, access_code="4711", preferred_date=date(2026, 10, 14)), guest_viewer(), rules)
    (row,) = webhook_rows()
    body = json.loads(row.body)
    assert row.type == body["type"] == "delivery_instructions.updated"
    assert row.status == "pending" and body["id"] == row.event_id
    assert datetime.fromisoformat(body["created_at"]) == MONDAY_MORNING
    assert body["data"] == {
        "order_number": "1001",
        "tracking_number": "T1001",
        "carrier": "DHL",
        "changed_fields": [
            "safe_place",
            "neighbour_name",
            "neighbour_house_number",
            "access_code",
            "preferred_date",
        ],
        "instructions": {
            "version": 1,
            "updated_at": MONDAY_MORNING.isoformat(),
            "changed_by": "guest",
            "safe_place": "neighbour",
            "safe_place_details": None,
            "neighbour": {"name": "Mrs Hudson", "house_number": "221a"},
            "access_code": "4711",
            "note": None,
            "preferred_date": "2026-10-14",
        },
    }


def test_the_change_is_announced_with_the_version(parcel: Shipment, rules: InstructionRules) -> None:
    heard: list[tuple[Shipment, DeliveryInstructionVersion]] = []

    def receiver(shipment: Shipment, version: DeliveryInstructionVersion, **_: Any) -> None:
        heard.append((shipment, version))

    signals.delivery_instructions_changed.connect(receiver)
    try:
        save(NEIGHBOUR, guest_viewer(), rules)
        save(NEIGHBOUR, guest_viewer(), rules, based_on=1)  # no change, no signal
    finally:
        signals.delivery_instructions_changed.disconnect(receiver)
    assert [(shipment.tracking_number, version.version) for shipment, version in heard] == [("T1001", 1)]
