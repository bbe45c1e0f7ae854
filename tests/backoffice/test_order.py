"""The order page for staff: the whole timeline, and every action with its effect and audit entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.audit import AuditEntry
from portal.backoffice.models import SequenceStop
from portal.extensions import db
from portal.messaging.models import Message
from portal.messaging.service import schedule_message
from portal.messaging.tasks import send_message
from portal.orders.instructions_models import DeliveryInstructionVersion
from portal.orders.models import Order, Shipment
from portal.webhooks.service import queue_webhook
from tests.backoffice.conftest import page, post, text_of
from tests.orders.test_views import make_order

ORDER_PAGE = "/backoffice/orders/1001"


def audit_entries(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def the_order() -> Order:
    order = db.session.scalar(select(Order).where(Order.number == "1001"))
    assert order is not None
    return order


def test_the_timeline_tells_the_whole_story_newest_first(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    queue_webhook("delivery_instructions.updated", {"order_number": "1001", "tracking_number": "T1001"})
    queue_webhook("delivery_instructions.updated", {"order_number": "10010", "tracking_number": "X"})
    db.session.commit()
    response = agent_client.get(ORDER_PAGE)
    assert response.status_code == 200
    items = page(response).select(".backoffice-timeline__item")
    kinds = {item.select_one(".backoffice-kind").text for item in items}
    assert {"Order", "Tracking", "Message", "Webhook", "Audit"} <= kinds
    webhooks = [item for item in items if "backoffice-timeline__item--webhook" in item["class"]]
    assert len(webhooks) == 1  # not the other order's
    times = [item.select_one("time")["datetime"] for item in items]
    assert times == sorted(times, reverse=True)
    assert "City 2" in text_of(response)


def test_unknown_order_is_404(agent_client: FlaskClient) -> None:
    assert agent_client.get("/backoffice/orders/9999").status_code == 404


def test_adding_a_tracking_event_applies_the_status_rules_and_is_audited(
    agent_client: FlaskClient, api: Any, agent: User
) -> None:
    make_order(api, "1001")
    response = post(
        agent_client,
        f"{ORDER_PAGE}/tracking-events",
        {
            "event-tracking_number": "T1001",
            "event-status": "out_for_delivery",
            "event-occurred_at": "2026-10-12T09:30",
            "event-description": "Customer called: driver on the way",
        },
        form_page=ORDER_PAGE,
    )
    assert response.status_code == 303
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    assert shipment is not None and shipment.status == "out_for_delivery"
    (entry,) = audit_entries("tracking_event.added")
    assert entry.actor_user_id == agent.id and entry.object_id == "T1001"
    assert entry.before == {"status": "in_transit"}
    assert entry.after is not None and entry.after["status"] == "out_for_delivery"
    # the messaging area reacted as to a carrier's event
    steps = set(db.session.scalars(select(Message.step).where(Message.order_id == the_order().id)))
    assert "out_for_delivery" in steps
    assert "Customer called" in text_of(agent_client.get(ORDER_PAGE))


def test_a_tracking_event_in_the_future_or_without_a_time_is_refused(
    agent_client: FlaskClient, api: Any
) -> None:
    make_order(api, "1001")
    with clock.freeze(datetime(2026, 10, 12, 12, 0, tzinfo=UTC)):
        for when in ("2030-01-01T10:00", ""):
            response = post(
                agent_client,
                f"{ORDER_PAGE}/tracking-events",
                {"event-tracking_number": "T1001", "event-status": "delivered", "event-occurred_at": when},
                form_page=ORDER_PAGE,
            )
            assert response.status_code == 422
            error = page(response).select_one("#event-occurred_at-error")
            assert error is not None and error.text.strip()
    shipment = db.session.scalar(select(Shipment).where(Shipment.tracking_number == "T1001"))
    assert shipment is not None and shipment.status == "in_transit"
    assert audit_entries("tracking_event.added") == []


def test_resending_a_sent_message_writes_a_new_one_due_now(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    message = db.session.scalar(select(Message).where(Message.step == "order_confirmation"))
    assert message is not None
    message.status, message.sent_at = "sent", clock.now()
    db.session.commit()
    response = post(agent_client, f"{ORDER_PAGE}/messages/{message.id}/resend", form_page=ORDER_PAGE)
    assert response.status_code == 303
    copies = db.session.scalars(
        select(Message).where(Message.step == "order_confirmation", Message.id != message.id)
    ).all()
    assert len(copies) == 1 and copies[0].status == "scheduled" and copies[0].scope.endswith(":r1")
    (entry,) = audit_entries("message.resent")
    assert entry.object_id == "1001" and entry.after is not None and entry.after["message"] == copies[0].id
    # a message still waiting cannot be resent
    response = post(agent_client, f"{ORDER_PAGE}/messages/{copies[0].id}/resend", form_page=ORDER_PAGE)
    assert response.status_code == 409
    assert len(audit_entries("message.resent")) == 1


def test_resending_a_failed_message_retries_it(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    message = db.session.scalar(select(Message).where(Message.step == "order_confirmation"))
    assert message is not None
    message.status, message.attempts, message.last_error = "failed", 6, "SMTP said no"
    db.session.commit()
    assert (
        post(agent_client, f"{ORDER_PAGE}/messages/{message.id}/resend", form_page=ORDER_PAGE).status_code
        == 303
    )
    db.session.refresh(message)
    assert (message.status, message.attempts, message.last_error) == ("scheduled", 0, None)


def test_another_orders_message_is_404(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    make_order(api, "2002", email="other@example.com")
    other = db.session.scalar(
        select(Message.id).join(Order, Order.id == Message.order_id).where(Order.number == "2002")
    )
    assert (
        post(agent_client, f"{ORDER_PAGE}/messages/{other}/resend", form_page=ORDER_PAGE).status_code == 404
    )


def test_stopping_the_sequence_skips_what_waits_and_what_comes(
    agent_client: FlaskClient, api: Any, agent: User
) -> None:
    make_order(api, "1001")
    waiting = db.session.scalars(select(Message.id).where(Message.status == "scheduled")).all()
    assert waiting
    response = post(
        agent_client, f"{ORDER_PAGE}/sequence/stop", {"stop-reason": "Customer asked"}, form_page=ORDER_PAGE
    )
    assert response.status_code == 303
    statuses = set(db.session.scalars(select(Message.skip_reason).where(Message.id.in_(waiting))))
    assert statuses == {"stopped_by_staff"}
    (entry,) = audit_entries("sequence.stopped")
    assert entry.actor_user_id == agent.id
    assert entry.after == {"stopped": True, "skipped": len(waiting), "reason": "Customer asked"}
    # a message written later is skipped when it is due
    order = the_order()
    (later,) = schedule_message(order, "delivered", shipment=order.shipments[0])
    db.session.commit()
    assert send_message(later) == "skipped: stopped_by_staff"
    # and stopping twice is refused
    assert post(agent_client, f"{ORDER_PAGE}/sequence/stop", form_page=ORDER_PAGE).status_code == 409
    assert "Stopped by agent@example.com" in text_of(agent_client.get(ORDER_PAGE))


def test_resuming_the_sequence(agent_client: FlaskClient, api: Any) -> None:
    make_order(api, "1001")
    assert post(agent_client, f"{ORDER_PAGE}/sequence/stop", form_page=ORDER_PAGE).status_code == 303
    assert post(agent_client, f"{ORDER_PAGE}/sequence/resume", form_page=ORDER_PAGE).status_code == 303
    assert db.session.get(SequenceStop, the_order().id) is None
    assert len(audit_entries("sequence.resumed")) == 1
    assert post(agent_client, f"{ORDER_PAGE}/sequence/resume", form_page=ORDER_PAGE).status_code == 409


def test_staff_change_instructions_on_the_customers_behalf(
    agent_client: FlaskClient, api: Any, agent: User
) -> None:
    from tests.instructions.conftest import MONDAY_MORNING, post_instructions

    with clock.freeze(MONDAY_MORNING):
        make_order(api, "1001")
        link = page(agent_client.get(ORDER_PAGE)).find(
            "a", string=lambda s: s and "Delivery instructions" in s
        )
        assert link is not None and link["href"] == "/orders/1001/shipments/T1001/instructions"
        response = post_instructions(agent_client, safe_place="porch", note="Ring twice")
        assert response.status_code in (200, 303)
        items = page(agent_client.get(ORDER_PAGE)).select(".backoffice-timeline__item--instructions")
    assert len(items) == 1 and "agent@example.com (staff)" in items[0].text
    version = db.session.scalar(select(DeliveryInstructionVersion))
    assert (
        version is not None and version.changed_by_role == "staff" and version.changed_by_user_id == agent.id
    )
    (entry,) = audit_entries("delivery_instructions.changed")
    assert entry.actor_user_id == agent.id
