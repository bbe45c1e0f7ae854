"""An agent who reads the back-office in German sees the stored codes in German: the order's status, its
messages (step, channel, status, skip reason), the timeline's kinds and states, the points ledger kind, the
status lists of the search and the lanes page, and why a parcel is at risk."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.messaging.models import Message
from portal.orders.models import Shipment
from portal.orders.prediction_models import ShipmentRisk
from portal.orders.predictions import RiskReason, encode_reasons
from tests.backoffice.conftest import make_user, page, text_of
from tests.backoffice.test_refusals_in_german import german_agent, today  # noqa: F401
from tests.returns.conftest import delivered_order

ORDER_PAGE = "/backoffice/orders/1001"


def cells(response: Any, selector: str) -> list[str]:
    return [" ".join(item.get_text(" ").split()) for item in page(response).select(selector)]


def test_the_order_page_in_german(german_agent: FlaskClient, api: Any, today: datetime) -> None:  # noqa: F811
    make_user("ada.lovelace@example.com", "shopper", "Ada Lovelace")
    delivered_order(api)
    message = db.session.scalar(select(Message).where(Message.step == "survey_invitation"))
    assert message is not None
    message.status, message.skip_reason = "skipped", "stopped_by_staff"
    db.session.commit()

    response = german_agent.get(ORDER_PAGE)
    assert response.status_code == 200
    lead = page(response).select_one(".page-header .lead")
    assert lead is not None and lead.get_text().endswith("· Bestellung aufgegeben")
    rows = cells(response, ".backoffice-table tbody tr")
    assert any(row.startswith("Bestellbestätigung E-Mail Geplant") for row in rows)
    assert any(
        row.startswith("Einladung zur Umfrage E-Mail Übersprungen (vom Team gestoppt)") for row in rows
    )
    kinds = set(cells(response, ".backoffice-kind"))
    assert {"Bestellung", "Sendungsverfolgung", "Nachricht", "Punkte"} <= kinds
    titles = cells(response, ".backoffice-timeline__title")
    assert "Sendungsverfolgung Paket T1001: Zugestellt [Zugestellt]" in titles
    assert "Nachricht Nachricht: Einladung zur Umfrage per E-Mail [Übersprungen]" in titles
    assert "Punkte Punkte +100 (Bonus)" in titles
    assert any(title.startswith("Punkte Punkte +") and title.endswith("(gesammelt)") for title in titles)
    options = cells(response, "#event-status option")
    assert options[:2] == ["Versandetikett erstellt", "Unterwegs"]
    text = text_of(response)
    for code in ("scheduled", "skipped", "stopped_by_staff", "(earn)", "in_transit"):
        assert code not in text


def test_the_status_lists_in_german(german_agent: FlaskClient) -> None:  # noqa: F811
    search = german_agent.get("/backoffice/")
    assert cells(search, "#status option")[1:] == [
        "Bestellung aufgegeben",
        "Zahlung eingegangen",
        "Bestellung verpackt",
        "Bestellung storniert",
    ]
    lanes = german_agent.get("/backoffice/lanes")
    assert lanes.status_code == 200
    assert cells(lanes, "#from option")[:3] == ["Versendet", "Versandetikett erstellt", "Unterwegs"]


def test_why_a_parcel_is_at_risk_in_german(german_agent: FlaskClient, api: Any, today: datetime) -> None:  # noqa: F811
    delivered_order(api)
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    assert shipment is not None
    reasons = [
        RiskReason("stalled", (("hours", 80), ("status", "in_transit"), ("limit", 48), ("basis", "floor"))),
        RiskReason("predicted_late", (("predicted", "2026-11-27"), ("promised", "2026-11-26"))),
    ]
    db.session.add(
        ShipmentRisk(
            shipment_id=shipment.id,
            parcels=0,
            stalled=True,
            late=True,
            reason=encode_reasons(reasons),
            flagged_at=clock.now() - timedelta(hours=1),
            evaluated_at=clock.now(),
        )
    )
    db.session.commit()
    expected = (
        "seit 80 h keine Neuigkeiten nach „Unterwegs“ (Grenze 48 h: das Minimum); "
        "voraussichtlich bis 27.11.2026, zugesagt bis 26.11.2026"
    )
    assert f"Gefährdet: {expected}" in cells(german_agent.get(ORDER_PAGE), ".backoffice-risk")[0]
    assert expected in text_of(german_agent.get("/backoffice/queues/at-risk"))

    # A row stored before the reasons had codes is shown as it was written.
    risk = db.session.get(ShipmentRisk, shipment.id)
    assert risk is not None
    risk.reason = "no news for 80 h after 'in_transit' (limit 48 h: floor)"
    db.session.commit()
    assert "no news for 80 h after 'in_transit'" in text_of(german_agent.get("/backoffice/queues/at-risk"))
