"""Staff queues (parcels at risk with why, failed messages and webhooks with retries) and the lanes page."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.audit import AuditEntry
from portal.extensions import db
from portal.messaging.models import Message
from portal.orders.models import Shipment
from portal.orders.prediction_models import LaneStatistic, ShipmentRisk
from portal.webhooks.models import WebhookDelivery
from portal.webhooks.service import queue_webhook
from tests.backoffice.conftest import page, post, text_of
from tests.orders.test_views import make_order


def test_at_risk_parcels_say_why(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    assert shipment is not None
    db.session.add(
        ShipmentRisk(
            shipment_id=shipment.id,
            lane="dhl/paket/DE/* from in_transit",
            parcels=120,
            confidence="medium",
            stalled=True,
            late=False,
            reason="no news for 80 h after 'in_transit' (limit 48 h: floor)",
            flagged_at=clock.now(),
            evaluated_at=clock.now(),
        )
    )
    db.session.commit()
    response = agent_client.get("/backoffice/queues/at-risk")
    text = text_of(response)
    assert (
        "T1001" in text and "no news for 80 h" in text and "stalled" in text and "(120, a good guess)" in text
    )
    assert page(response).select_one('a[href="/backoffice/orders/1001"]') is not None
    assert "At risk: no news for 80 h" in text_of(agent_client.get("/backoffice/orders/1001"))


def test_failed_messages_can_be_retried(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    message = db.session.scalar(select(Message).where(Message.step == "order_confirmation"))
    assert message is not None
    message.status, message.attempts, message.last_error = "failed", 6, "SMTP 550 mailbox unavailable"
    db.session.commit()
    assert "SMTP 550" in text_of(agent_client.get("/backoffice/queues/failed"))
    response = post(
        agent_client, f"/backoffice/queues/messages/{message.id}/retry", form_page="/backoffice/queues/failed"
    )
    assert response.status_code == 303
    db.session.refresh(message)
    assert message.status == "scheduled" and message.attempts == 0
    assert (
        db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "message"))
        == "message.retried"
    )
    # once more: it is no longer failed
    response = post(
        agent_client, f"/backoffice/queues/messages/{message.id}/retry", form_page="/backoffice/queues/failed"
    )
    assert response.status_code == 303
    assert "Only failed messages" in text_of(agent_client.get("/backoffice/queues/failed"))
    assert post(agent_client, "/backoffice/queues/messages/999999/retry").status_code == 404


def test_failed_webhooks_can_be_retried(agent_client: FlaskClient, app: Any) -> None:
    delivery = queue_webhook("return.requested", {"order_number": "1001"})
    delivery.status, delivery.attempt_count, delivery.last_error = "failed", 5, "HTTP 500"
    db.session.commit()
    assert "HTTP 500" in text_of(agent_client.get("/backoffice/queues/failed"))
    response = post(
        agent_client,
        f"/backoffice/queues/webhooks/{delivery.id}/retry",
        form_page="/backoffice/queues/failed",
    )
    assert response.status_code == 303
    assert db.session.scalar(select(WebhookDelivery.status)) == "pending"
    assert (
        db.session.scalar(select(AuditEntry.action).where(AuditEntry.object_type == "webhook"))
        == "webhook.retried"
    )


def test_lanes_show_percentiles_and_on_time_rate(agent_client: FlaskClient, app: Any) -> None:
    db.session.add(
        LaneStatistic(
            carrier="dhl",
            service="paket",
            country="DE",
            area="*",
            from_status="shipped",
            parcels=150,
            p20=1,
            p50=2,
            p80=3,
            p95=5,
            gap_p95_hours=30.0,
            with_promise=100,
            on_time=87,
            computed_at=clock.now(),
        )
    )
    db.session.commit()
    row = page(agent_client.get("/backoffice/lanes")).select_one("tbody tr")
    cells = [cell.get_text(" ", strip=True) for cell in row.find_all(["th", "td"])]
    assert cells == ["dhl/paket/DE/*", "150", "2", "3", "5", "87% (87/100)", "30 h"]
    assert "No lane statistics" in text_of(agent_client.get("/backoffice/lanes?from=delivered"))


def test_job_health_for_admins(admin_client: FlaskClient, app: Any) -> None:
    response = admin_client.get("/backoffice/jobs")
    assert response.status_code == 200
    assert "default" in text_of(response) and "No worker is running" in text_of(response)
    assert (
        post(admin_client, "/backoffice/jobs/default/nope/retry", form_page="/backoffice/jobs").status_code
        == 404
    )
    assert (
        post(
            admin_client, "/backoffice/jobs/nosuchqueue/nope/delete", form_page="/backoffice/jobs"
        ).status_code
        == 404
    )
