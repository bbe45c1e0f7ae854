"""Returns, loyalty and surveys in the back-office: the review queue, RMA search, return decisions and point
adjustments from the order page (audited by their services), their entries on the timeline and dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import clock
from portal.accounts.models import User
from portal.audit import Actor, AuditEntry
from portal.extensions import db
from portal.loyalty.models import LedgerEntry
from portal.orders.models import Order
from portal.returns.models import Return
from portal.returns.service import LineRequest, ReturnRequest, request_return
from portal.surveys.models import SurveyResponse
from tests.backoffice.conftest import make_user, page, post, text_of
from tests.returns.conftest import TODAY, delivered_order, item_id

ORDER_PAGE = "/backoffice/orders/1001"


@pytest.fixture
def today() -> Iterator[datetime]:
    with clock.freeze(TODAY):
        yield TODAY


@pytest.fixture
def waiting_return(api: Any, today: datetime) -> Return:
    """Order 1001 of shopper Ada, delivered, with a return of a damaged T-shirt waiting for review."""
    make_user("ada.lovelace@example.com", "shopper", "Ada Lovelace")
    order = delivered_order(api)
    data = ReturnRequest(
        lines=[LineRequest(item_id("1001", "TEE-BLK-M"), 1, "damaged", "Torn seam")],
        resolution="refund",
        method="label",
        idempotency_key="bo-test-1",
    )
    item, _ = request_return(order, data, Actor.system("test"))
    db.session.commit()
    assert item.status == "requested"
    return item


def test_the_review_queue_lists_the_return_with_its_rule(
    agent_client: FlaskClient, waiting_return: Return
) -> None:
    text = text_of(agent_client.get("/backoffice/queues/returns"))
    assert waiting_return.rma in text and "A reason that needs inspection" in text


def test_search_finds_the_order_by_rma(agent_client: FlaskClient, waiting_return: Return) -> None:
    response = agent_client.get("/backoffice/", query_string={"q": waiting_return.rma.lower()[:5]})
    assert [a.text for a in page(response).select("#search-results tbody td:first-child a")] == ["1001"]


def test_approving_from_the_order_page(
    agent_client: FlaskClient, waiting_return: Return, agent: User
) -> None:
    html = page(agent_client.get(ORDER_PAGE))
    assert html.select_one(f"#return-{waiting_return.rma}") is not None and "Torn seam" in html.text
    response = post(agent_client, f"{ORDER_PAGE}/returns/{waiting_return.rma}/approve", form_page=ORDER_PAGE)
    assert response.status_code == 303
    db.session.refresh(waiting_return)
    assert waiting_return.status == "approved"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "return.approved"))
    assert entry is not None and entry.actor_user_id == agent.id and entry.object_id == waiting_return.rma
    items = page(agent_client.get(ORDER_PAGE)).select(".backoffice-timeline__item--return")
    assert any("Approved" in item.text and "agent@example.com" in item.text for item in items)


def test_rejecting_needs_a_reason(agent_client: FlaskClient, waiting_return: Return) -> None:
    path = f"{ORDER_PAGE}/returns/{waiting_return.rma}/reject"
    response = post(agent_client, path, {"note": ""}, form_page=ORDER_PAGE)
    assert response.status_code == 422 and "Give a reason" in text_of(response)
    db.session.refresh(waiting_return)
    assert waiting_return.status == "requested"
    assert post(agent_client, path, {"note": "Worn, not damaged"}, form_page=ORDER_PAGE).status_code == 303
    db.session.refresh(waiting_return)
    assert waiting_return.status == "rejected"


def test_receiving_before_approval_is_refused(agent_client: FlaskClient, waiting_return: Return) -> None:
    response = post(agent_client, f"{ORDER_PAGE}/returns/{waiting_return.rma}/receive", form_page=ORDER_PAGE)
    assert response.status_code == 409
    assert (
        post(agent_client, f"{ORDER_PAGE}/returns/R-NOPE00/approve", form_page=ORDER_PAGE).status_code == 404
    )
    assert post(agent_client, f"{ORDER_PAGE}/returns/{waiting_return.rma}/explode").status_code == 404


def test_adjusting_points_with_a_reason(
    agent_client: FlaskClient, waiting_return: Return, agent: User
) -> None:
    order = db.session.scalar(select(Order).where(Order.number == "1001"))
    assert order is not None and order.customer_id is not None
    response = post(
        agent_client, f"{ORDER_PAGE}/points", {"points": "abc", "reason": "x"}, form_page=ORDER_PAGE
    )
    assert response.status_code == 422
    response = post(
        agent_client, f"{ORDER_PAGE}/points", {"points": "50", "reason": ""}, form_page=ORDER_PAGE
    )
    assert response.status_code == 422
    # A NUL character (PostgreSQL cannot store one in text) is refused with a message, nothing booked.
    response = post(
        agent_client, f"{ORDER_PAGE}/points", {"points": "5", "reason": "a\x00b"}, form_page=ORDER_PAGE
    )
    assert response.status_code == 422
    assert db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "adjust")) is None
    data = {"points": "50", "reason": "Sorry for the torn seam"}
    assert post(agent_client, f"{ORDER_PAGE}/points", data, form_page=ORDER_PAGE).status_code == 303
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "adjust"))
    assert entry is not None and entry.points == 50 and entry.customer_id == order.customer_id
    assert entry.actor_user_id == agent.id
    assert db.session.scalar(select(AuditEntry.id).where(AuditEntry.actor_user_id == agent.id)) is not None


def test_survey_answers_on_the_timeline_and_the_dashboard(
    agent_client: FlaskClient, waiting_return: Return
) -> None:
    order = db.session.scalar(select(Order).where(Order.number == "1001"))
    assert order is not None
    db.session.add(
        SurveyResponse(
            order_id=order.id,
            nps=9,
            csat=4,
            comment="Quick!",
            responded_at=clock.now(),
            answered_at=clock.now(),
        )
    )
    db.session.commit()
    items = page(agent_client.get(ORDER_PAGE)).select(".backoffice-timeline__item--survey")
    assert len(items) == 1 and "NPS 9/10, CSAT 4/5" in items[0].text and "Quick!" in items[0].text
    text = text_of(agent_client.get("/backoffice/dashboard?from=2026-11-01&until=2026-11-30"))
    assert "NPS (1 answer) +100" in text and "CSAT, average delivery rating (1 rating) 4.0 / 5" in text
    assert "Returns requested 1" in text and "Arrived damaged 1 item" in text
    assert "Return rate (returns per order delivered in the period) 100%" in text
