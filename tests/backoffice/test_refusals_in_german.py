"""An agent who reads the back-office in German sees the services' refusals in German too: the flash after a
refused return decision, message resend or retry, and the errors next to the tracking-event fields."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.audit import Actor
from portal.extensions import db
from portal.messaging.models import Message
from portal.returns.models import Return
from portal.returns.service import LineRequest, ReturnRequest, request_return
from portal.webhooks.models import WebhookDelivery
from portal.webhooks.service import queue_webhook
from tests.backoffice.conftest import make_user, page, post, text_of
from tests.orders.test_views import sign_in
from tests.returns.conftest import TODAY, delivered_order, item_id

ORDER_PAGE = "/backoffice/orders/1001"


@pytest.fixture
def today() -> Iterator[datetime]:
    with clock.freeze(TODAY):
        yield TODAY


@pytest.fixture
def german_agent(client: FlaskClient) -> FlaskClient:
    """An agent who chose German for the portal (the stored preference, no ?lang=)."""
    agent: User = make_user("agent@example.com", "agent", "Alex Agent")
    agent.locale = "de"
    db.session.commit()
    sign_in(client, agent)
    return client


def flashes(response: Any) -> list[str]:
    return [" ".join(item.get_text(" ").split()) for item in page(response).select("#flashes .flash")]


@pytest.fixture
def waiting_return(api: Any, today: datetime) -> Return:
    make_user("ada.lovelace@example.com", "shopper", "Ada Lovelace")
    order = delivered_order(api)
    data = ReturnRequest(
        lines=[LineRequest(item_id("1001", "TEE-BLK-M"), 1, "damaged", "Torn seam")],
        resolution="refund",
        method="label",
        idempotency_key="german-1",
    )
    item, _ = request_return(order, data, Actor.system("test"))
    db.session.commit()
    return item


def test_a_refused_return_decision(german_agent: FlaskClient, waiting_return: Return) -> None:
    rma = waiting_return.rma
    response = post(german_agent, f"{ORDER_PAGE}/returns/{rma}/receive", form_page=ORDER_PAGE)
    assert response.status_code == 409
    assert flashes(response) == [
        f"Rücksendung {rma} hat den Status „Wartet auf Genehmigung“ und kann nicht auf "
        "„Beim Shop eingegangen“ wechseln."
    ]
    # The return's own words for the missing reason come back in German next to the form too.
    response = post(german_agent, f"{ORDER_PAGE}/returns/{rma}/reject", {"note": ""}, form_page=ORDER_PAGE)
    assert response.status_code == 422
    assert flashes(response) == ["Bitte geben Sie einen Grund für die Ablehnung an."]


def test_a_refused_resend_and_retry(german_agent: FlaskClient, api: Any, today: datetime) -> None:
    delivered_order(api)
    waiting = db.session.scalar(select(Message).where(Message.step == "order_confirmation"))
    assert waiting is not None and waiting.status == "scheduled"
    response = post(german_agent, f"{ORDER_PAGE}/messages/{waiting.id}/resend", form_page=ORDER_PAGE)
    assert response.status_code == 409
    assert flashes(response) == ["Diese Nachricht wurde noch nicht versendet."]

    failed_page = "/backoffice/queues/failed"
    retried = post(german_agent, f"/backoffice/queues/messages/{waiting.id}/retry", form_page=failed_page)
    assert retried.status_code == 303
    assert flashes(german_agent.get(failed_page)) == [
        "Nur fehlgeschlagene Nachrichten lassen sich erneut senden."
    ]

    queue_webhook("delivery_instructions.updated", {"order_number": "1001", "tracking_number": "T1001"})
    db.session.commit()
    delivery = db.session.scalar(select(WebhookDelivery.id))
    retried = post(german_agent, f"/backoffice/queues/webhooks/{delivery}/retry", form_page=failed_page)
    assert retried.status_code == 303
    assert flashes(german_agent.get(failed_page)) == [
        "Dieser Webhook ist nicht fehlgeschlagen: Nur fehlgeschlagene oder übersprungene Webhooks können "
        "erneut gesendet werden."
    ]


def test_a_tracking_event_in_the_future(german_agent: FlaskClient, api: Any, today: datetime) -> None:
    delivered_order(api)
    tomorrow = (TODAY + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "event-tracking_number": "T1001",
        "event-status": "delivered",
        "event-occurred_at": tomorrow,
        "event-description": "",
    }
    response = post(german_agent, f"{ORDER_PAGE}/tracking-events", data, form_page=ORDER_PAGE)
    assert response.status_code == 422
    assert flashes(response) == ["Das Sendungsereignis wurde nicht hinzugefügt."]
    error = page(response).select_one("#event-occurred_at-error")
    assert error is not None
    assert error.get_text(strip=True) == "Das Ereignis kann nicht in der Zukunft liegen."
    assert "cannot" not in text_of(response)
