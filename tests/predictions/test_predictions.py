"""Predictive delivery on a generated history with known transit times."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.messaging.models import Message
from portal.orders.calendar import add_business_days, business_days_between, next_business_day
from portal.orders.models import Order, Shipment, TrackingEvent
from portal.orders.prediction_models import LaneStatistic, ShipmentRisk
from portal.orders.predictions import (
    RiskReason,
    decode_reasons,
    percentile,
    queue_refresh_predictions,
    refresh_predictions,
)
from tests.factories import order_body, shipment_body

# Monday 23 November 2026, 10:00 (the tests' DEFAULT_TIMEZONE is Europe/London, UTC in winter).
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def grant(client: Any, number: str) -> None:
    """Let the test client see one order as a guest who looked it up."""
    order_id = db.session.scalar(select(Order.id).where(Order.number == number))
    with client.session_transaction() as session:
        session["order_grants"] = {str(order_id): time.time() + 3600}


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def new_order(postal_code: str = "10115", country: str = "DE") -> Order:
    number = next(_numbers)
    order = Order(
        number=f"H{number}",
        email="ada@example.com",
        customer_name="Ada",
        locale="en",
        placed_at=NOW - timedelta(days=200),
        currency="EUR",
        total=Decimal("10.00"),
        status="paid",
        ship_name="Ada",
        ship_line1="Hauptstraße 1",
        ship_city="Berlin",
        ship_postal_code=postal_code,
        ship_country=country,
    )
    db.session.add(order)
    return order


def delivered(
    days: int,
    shipped: date,
    carrier: str = "DHL",
    service: str | None = "Paket",
    postal_code: str = "10115",
    promised_days: int | None = None,
) -> Shipment:
    """A parcel handed over on `shipped` at 09:00 and delivered `days` business days later at 14:00."""
    order = new_order(postal_code)
    delivered_at = at(add_business_days(shipped, days), 14)
    shipment = Shipment(
        order=order,
        tracking_number=f"T{order.number}",
        carrier=carrier,
        service=service,
        shipped_at=at(shipped),
        status="delivered",
        last_event_at=delivered_at,
        delivered_at=delivered_at,
        promised_latest=at(add_business_days(shipped, promised_days), 20) if promised_days else None,
    )
    db.session.add(shipment)
    for status, moment in (("in_transit", at(shipped, 12)), ("delivered", delivered_at)):
        db.session.add(
            TrackingEvent(
                event_id=f"{order.number}-{status}",
                tracking_number=shipment.tracking_number,
                shipment=shipment,
                status=status,
                occurred_at=moment,
            )
        )
    return shipment


def history(pattern: list[int], repeats: int, **lane: Any) -> None:
    """`pattern` transit times repeated, handed over on weekdays spread over the last weeks."""
    start = date(2026, 9, 7)  # a Monday, within the 180-day window
    for i, days in enumerate(pattern * repeats):
        delivered(days, next_business_day(start + timedelta(days=i % 60)), **lane)
    db.session.flush()


def open_parcel(
    carrier: str = "DHL",
    service: str | None = "Paket",
    postal_code: str = "10115",
    status: str | None = None,
    last_event_at: datetime | None = None,
    promised_latest: datetime | None = None,
    shipped_at: datetime = NOW - timedelta(hours=1),
) -> Shipment:
    order = new_order(postal_code)
    shipment = Shipment(
        order=order,
        tracking_number=f"T{order.number}",
        carrier=carrier,
        service=service,
        shipped_at=shipped_at,
        status=status,
        last_event_at=last_event_at,
        promised_latest=promised_latest,
    )
    db.session.add(shipment)
    db.session.flush()
    return shipment


def lane(carrier: str, service: str, country: str, area: str, status: str = "shipped") -> LaneStatistic:
    row = db.session.scalar(
        select(LaneStatistic).filter_by(
            carrier=carrier, service=service, country=country, area=area, from_status=status
        )
    )
    assert row is not None
    return row


def exception_messages(shipment: Shipment) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.shipment_id == shipment.id, Message.step == "delivery_exception")
        )
        or 0
    )


def refresh(moment: datetime) -> Any:
    with clock.freeze(moment):
        summary = refresh_predictions()
    db.session.commit()
    return summary


# --- arithmetic ---------------------------------------------------------------------------------------------


def test_business_days_skip_weekends_and_holidays() -> None:
    friday, monday, tuesday = date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)
    assert add_business_days(friday, 1) == monday
    assert add_business_days(friday, 1, [monday]) == tuesday
    assert add_business_days(date(2026, 11, 21), 0) == monday  # Saturday: the next business day
    assert add_business_days(monday, 5) == date(2026, 11, 30)
    assert business_days_between(friday, monday) == 1
    assert business_days_between(friday, tuesday, [monday]) == 1
    assert business_days_between(monday, monday) == 0
    assert business_days_between(monday, date(2026, 12, 7)) == 10
    christmas = [date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)]  # the 26th is a Saturday
    assert business_days_between(date(2026, 12, 23), date(2026, 12, 28), christmas) == 1
    assert add_business_days(date(2026, 12, 23), 1, christmas) == date(2026, 12, 28)


def test_percentiles_are_nearest_rank() -> None:
    counts = Counter([2, 3, 3, 4, 5] * 10)
    assert [percentile(counts, share) for share in (0.2, 0.5, 0.8, 0.95)] == [2, 3, 4, 5]
    assert percentile(Counter([7]), 0.2) == 7
    with pytest.raises(ValueError):
        percentile(Counter(), 0.5)


# --- the model ----------------------------------------------------------------------------------------------


def test_a_lane_with_known_transit_times_has_those_percentiles(app: Any) -> None:
    history([2, 3, 3, 4, 5], 10, promised_days=4)
    summary = refresh(NOW)
    for key in (("dhl", "paket", "DE", "10"), ("dhl", "paket", "DE", "*"), ("dhl", "*", "*", "*")):
        row = lane(*key)
        assert (row.parcels, row.p20, row.p50, row.p80, row.p95) == (50, 2, 3, 4, 5)
        assert (row.with_promise, row.on_time) == (50, 40)
        assert row.on_time_rate == pytest.approx(0.8)
    # From the in-transit scan (same day as the handover) the remaining times are the same.
    assert lane("dhl", "paket", "DE", "10", "in_transit").p80 == 4
    assert summary.lanes > 0


def test_deliveries_older_than_the_window_do_not_count(app: Any) -> None:
    history([2, 3, 3, 4, 5], 10)
    delivered(9, date(2026, 3, 2))  # delivered in March: outside 180 days
    db.session.commit()
    refresh(NOW)
    assert lane("dhl", "*", "*", "*").parcels == 50


def test_an_open_parcel_gets_the_20th_to_80th_percentile_window(app: Any) -> None:
    history([2, 3, 3, 4, 5], 10)
    parcel = open_parcel(shipped_at=at(date(2026, 11, 23), 9))
    refresh(NOW)
    db.session.refresh(parcel)
    assert parcel.predicted_earliest == at(date(2026, 11, 25), 8)  # Wednesday
    assert parcel.predicted_latest == at(date(2026, 11, 27), 20)  # Friday
    risk = db.session.get(ShipmentRisk, parcel.id)
    assert risk is not None
    assert (risk.lane, risk.parcels, risk.confidence) == ("dhl/paket/DE/10 from shipped", 50, "low")
    assert not risk.at_risk


def test_holidays_move_the_predicted_window(app: Any) -> None:
    app.config["DELIVERY_HOLIDAYS"] = (date(2026, 11, 25),)
    try:
        history([2, 2, 2], 10)
        parcel = open_parcel(shipped_at=at(date(2026, 11, 23), 9))
        refresh(NOW)
    finally:
        app.config["DELIVERY_HOLIDAYS"] = ()
    db.session.refresh(parcel)
    assert parcel.predicted_earliest is not None
    assert parcel.predicted_earliest.date() == date(2026, 11, 26)  # Thursday: Wednesday is a holiday


def test_a_thin_lane_falls_back_to_the_coarser_one(app: Any) -> None:
    history([2, 3, 3, 4, 5], 10)  # Berlin (10…)
    history([8], 5, postal_code="80331")  # Munich: only 5 parcels, below the minimum of 30
    history([9], 5, service="Express")  # a thin service: falls back to the carrier as a whole
    munich = open_parcel(postal_code="80331", shipped_at=at(date(2026, 11, 23), 9))
    express = open_parcel(service="Express", shipped_at=at(date(2026, 11, 23), 9))
    unknown = open_parcel(carrier="Nobody", shipped_at=at(date(2026, 11, 23), 9))
    refresh(NOW)
    assert lane("dhl", "paket", "DE", "80").parcels == 5
    munich_risk = db.session.get(ShipmentRisk, munich.id)
    assert munich_risk is not None and munich_risk.lane == "dhl/paket/DE/* from shipped"
    assert munich_risk.parcels == 55
    express_risk = db.session.get(ShipmentRisk, express.id)
    assert express_risk is not None and express_risk.lane == "dhl/*/*/* from shipped"
    db.session.refresh(unknown)
    assert unknown.predicted_earliest is None and unknown.predicted_latest is None
    unknown_risk = db.session.get(ShipmentRisk, unknown.id)
    assert unknown_risk is not None and unknown_risk.lane is None and unknown_risk.confidence is None


# --- at risk ------------------------------------------------------------------------------------------------


def test_a_silent_parcel_is_stalled_after_the_floor_and_told_once(app: Any) -> None:
    last_scan = NOW - timedelta(hours=1)
    parcel = open_parcel(carrier="UPS", status="in_transit", last_event_at=last_scan)
    db.session.commit()
    refresh(last_scan + timedelta(hours=47))
    risk = db.session.get(ShipmentRisk, parcel.id)
    assert risk is not None and not risk.stalled
    assert exception_messages(parcel) == 0

    summary = refresh(last_scan + timedelta(hours=49))
    db.session.refresh(risk)
    assert risk.stalled and not risk.late
    reasons = decode_reasons(risk.reason)
    assert reasons is not None and [reason.code for reason in reasons] == ["stalled"]
    assert (reasons[0].get("status"), reasons[0].get("limit"), reasons[0].get("basis")) == (
        "in_transit",
        48,
        "floor",
    )
    assert summary.flagged == 1 and summary.notified == 1
    assert exception_messages(parcel) == 1
    message = db.session.scalar(select(Message).where(Message.shipment_id == parcel.id))
    assert message is not None and "has not moved" in message.context["explanation"]

    # The same day and the days after: still stalled, no second message.
    refresh(last_scan + timedelta(hours=50))
    refresh(last_scan + timedelta(hours=80))
    db.session.refresh(risk)
    assert risk.stalled
    assert exception_messages(parcel) == 1


def test_the_stall_clears_when_events_resume_and_no_second_message_follows(app: Any) -> None:
    last_scan = NOW - timedelta(hours=1)
    parcel = open_parcel(carrier="UPS", status="in_transit", last_event_at=last_scan)
    db.session.commit()
    refresh(last_scan + timedelta(hours=49))
    parcel.last_event_at = last_scan + timedelta(hours=60)
    db.session.commit()
    summary = refresh(last_scan + timedelta(hours=61))
    risk = db.session.get(ShipmentRisk, parcel.id)
    assert risk is not None and not risk.stalled and risk.flagged_at is None and risk.cleared_at is not None
    assert summary.cleared == 1
    # Silent again for days: flagged again, but the customer was told about this parcel already.
    refresh(last_scan + timedelta(hours=200))
    db.session.refresh(risk)
    assert risk.stalled
    assert exception_messages(parcel) == 1


def test_a_parcel_is_late_when_the_prediction_ends_after_the_promise(app: Any) -> None:
    history([2, 3, 3, 4, 5], 10)
    shipped = at(date(2026, 11, 23), 9)
    on_time = open_parcel(shipped_at=shipped, promised_latest=at(date(2026, 11, 27), 20))
    late = open_parcel(shipped_at=shipped, promised_latest=at(date(2026, 11, 26), 20))
    refresh(NOW)
    on_time_risk, late_risk = db.session.get(ShipmentRisk, on_time.id), db.session.get(ShipmentRisk, late.id)
    assert on_time_risk is not None and not on_time_risk.late
    assert late_risk is not None and late_risk.late and not late_risk.stalled
    assert decode_reasons(late_risk.reason) == [
        RiskReason("predicted_late", (("predicted", "2026-11-27"), ("promised", "2026-11-26")))
    ]
    assert exception_messages(late) == 1 and exception_messages(on_time) == 0


def test_a_passed_promise_is_late_until_delivery_clears_it(app: Any) -> None:
    parcel = open_parcel(
        carrier="UPS",
        status="in_transit",
        last_event_at=NOW - timedelta(hours=2),
        promised_latest=NOW - timedelta(hours=1),
    )
    db.session.commit()
    refresh(NOW)
    risk = db.session.get(ShipmentRisk, parcel.id)
    assert risk is not None and risk.late
    assert decode_reasons(risk.reason) == [
        RiskReason("window_ended", (("promised", (NOW - timedelta(hours=1)).isoformat()),))
    ]
    parcel.status, parcel.delivered_at, parcel.last_event_at = "delivered", NOW, NOW
    db.session.commit()
    summary = refresh(NOW + timedelta(hours=1))
    db.session.refresh(risk)
    assert not risk.at_risk and risk.cleared_at is not None
    assert summary.cleared == 1
    assert exception_messages(parcel) == 1


def test_a_lane_p95_gap_above_the_floor_is_the_limit(app: Any) -> None:
    # In-transit scan at 12:00 on the handover day, delivered 5 business days later at 14:00: a gap of
    # about a week, far above the 48 h floor.
    history([5], 30)
    last_scan = NOW - timedelta(hours=1)
    parcel = open_parcel(status="in_transit", last_event_at=last_scan)
    refresh(last_scan + timedelta(hours=72))
    risk = db.session.get(ShipmentRisk, parcel.id)
    assert risk is not None and not risk.stalled
    gap = lane("dhl", "paket", "DE", "10", "in_transit").gap_p95_hours
    assert gap is not None and gap > 72
    refresh(last_scan + timedelta(hours=gap + 1))
    db.session.refresh(risk)
    reasons = decode_reasons(risk.reason)
    assert risk.stalled and reasons is not None and reasons[0].get("basis") == "lane"


# --- where it shows -----------------------------------------------------------------------------------------


def test_the_order_page_and_the_api_show_the_prediction_and_the_notice(
    app: Any, client: Any, api: Any
) -> None:
    history([2, 3, 3, 4, 5], 10)
    db.session.commit()
    promised = {"earliest": "2026-11-24T08:00:00+00:00", "latest": "2026-11-25T20:00:00+00:00"}
    assert api.put("/orders/5001", json=order_body()).status_code == 201
    body = shipment_body(shipped_at="2026-11-23T09:00:00+00:00", promised_delivery=promised)
    assert api.put("/orders/5001/shipments/JJD5001", json=body).status_code == 201
    refresh(NOW)

    grant(client, "5001")
    html = page(client.get("/orders/5001"))
    prediction = html.select_one(".parcel__prediction")
    assert prediction is not None
    assert "likely" in prediction.text and "a rough guess" in prediction.text
    assert "Wed" in prediction.text and "Fri" in prediction.text
    notice = html.select_one(".notice--at-risk")
    assert notice is not None and "later than promised" in notice.text

    shipment = api.get("/orders/5001").get_json()["shipments"][0]
    assert shipment["predicted_delivery"]["earliest"].startswith("2026-11-25T08:00:00")
    assert shipment["predicted_delivery"]["latest"].startswith("2026-11-27T20:00:00")


def test_the_command_refreshes_and_reports(app: Any, runner: Any) -> None:
    history([2, 3], 20)
    db.session.commit()
    result = runner.invoke(args=["portal", "refresh-predictions"])
    assert result.exit_code == 0, result.output
    assert "lane statistic(s)" in result.output
    assert db.session.scalar(select(func.count()).select_from(LaneStatistic))


def test_the_worker_queues_the_refresh_at_most_once_per_period(app: Any) -> None:
    from portal.queue import get_queue

    assert queue_refresh_predictions() is True
    assert queue_refresh_predictions() is False
    assert get_queue("default").fetch_job("refresh-predictions") is not None
