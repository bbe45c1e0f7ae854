"""The whole return as a guest and as a shopper, through HTTP: request, approval, label, scan, refund."""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

from bs4 import BeautifulSoup
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.audit import Actor, AuditEntry
from portal.extensions import db
from portal.messaging.models import Message
from portal.returns import service
from portal.returns.models import Return, ReturnLabel
from portal.returns.tasks import render_return_label
from portal.webhooks.models import WebhookDelivery
from tests.conftest import csrf_token
from tests.factories import event_body, order_body, shipment_body
from tests.orders.test_views import grant, shopper, sign_in
from tests.returns.conftest import delivered_order, item_id, return_form


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def only_return() -> Return:
    returns = db.session.scalars(select(Return)).all()
    assert len(returns) == 1
    return returns[0]


def webhook_types() -> list[str]:
    return list(db.session.scalars(select(WebhookDelivery.type).order_by(WebhookDelivery.id)))


def test_a_guest_returns_an_item_and_prints_the_label(client: Any, api: Any, today: datetime) -> None:
    delivered_order(api)
    grant(client, "1001")
    response = client.post("/orders/1001/returns/new", data=return_form(client))
    assert response.status_code == 303
    item = only_return()
    assert response.headers["Location"] == f"/returns/{item.rma}"
    assert item.status == "approved" and item.review_rule is None
    assert item.rma.startswith("R-") and len(item.rma) == 8
    assert webhook_types() == ["return.requested", "return.approved"]

    # While the label is made the page polls a small element; without JavaScript it says to reload.
    html = page(client.get(f"/returns/{item.rma}"))
    status = html.select_one("#label-status")
    assert (
        status is not None and status["hx-get"] == f"/returns/{item.rma}" and status["hx-swap"] == "outerHTML"
    )
    assert "being prepared" in status.text and "Reload this page" in status.text
    assert "Your return is approved" in html.text
    fragment = client.get(f"/returns/{item.rma}", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b'id="label-status"' in fragment.data
    assert client.get(f"/returns/{item.rma}/label.pdf").status_code == 404  # not made yet

    assert render_return_label(item.id) == "stored"
    fragment = page(client.get(f"/returns/{item.rma}", headers={"HX-Request": "true"}))
    ready = fragment.select_one("#label-status")
    assert ready is not None and not ready.has_attr("hx-get")
    links = {a.text.strip(): a["href"] for a in ready.select("a")}
    assert links["Download label (PDF)"] == f"/returns/{item.rma}/label.pdf?download=1"
    assert links["Print (opens in a new tab)"] == f"/returns/{item.rma}/label.pdf"

    pdf = client.get(f"/returns/{item.rma}/label.pdf?download=1")
    assert pdf.status_code == 200
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.headers["Cache-Control"] == "private, no-store"
    assert pdf.headers["Content-Disposition"] == f'attachment; filename="return-label-{item.rma}.pdf"'
    assert client.get(f"/returns/{item.rma}/label.pdf").headers["Content-Disposition"].startswith("inline;")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert item.rma in text and "Ada Lovelace" in text and "Riverside Park" in text

    # The carrier scans the return parcel: the return is on its way and can no longer be cancelled.
    scan = event_body("ret-1", "in_transit", "2026-11-20T15:00:00+00:00", tracking_number=item.rma)
    scan["location"] = {"city": "Leeds", "country": "GB"}
    assert api.post("/tracking-events", json=scan).status_code == 200
    db.session.expire_all()
    assert only_return().status == "in_transit"
    html = page(client.get(f"/returns/{item.rma}"))
    assert "On its way back" in html.text and "Leeds, GB" in html.text
    assert html.select_one(f"form[action='/returns/{item.rma}/cancel']") is None
    token = csrf_token(client.get(f"/returns/{item.rma}").get_data(as_text=True))
    refused = client.post(f"/returns/{item.rma}/cancel", data={"csrf_token": token})
    assert refused.status_code == 303
    db.session.expire_all()
    assert only_return().status == "in_transit"

    # The warehouse reports it received, then refunded.
    body = {"type": "received", "occurred_at": "2026-11-22T10:00:00+00:00"}
    assert api.post(f"/returns/{item.rma}/events", json=body).status_code == 201
    body = {"type": "refunded", "occurred_at": "2026-11-22T11:00:00+00:00"}
    assert api.post(f"/returns/{item.rma}/events", json=body).status_code == 201
    assert webhook_types() == ["return.requested", "return.approved", "return.received"]
    received = json.loads(db.session.scalars(select(WebhookDelivery.body)).all()[-1])
    assert received["data"]["rma"] == item.rma and received["data"]["status"] == "received"
    html = page(client.get(f"/returns/{item.rma}"))
    titles = [p.text for p in html.select(".timeline__title")]
    assert titles == [
        "Refund sent to your original payment method",
        "Parcel received by the shop",
        "Parcel handed to the carrier",
        "Label ready to print",
        "Return approved",
        "Return requested",
    ]
    # The label is no longer offered once the parcel arrived; the order page lists the return.
    assert html.select_one("#label-status") is None
    order_page = page(client.get("/orders/1001")).select_one("#returns")
    assert f"Return {item.rma}" in order_page.text and "Refunded" in order_page.text
    actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.object_type == "return")))
    assert {
        "return.requested",
        "return.approved",
        "return.in_transit",
        "return.received",
        "return.refunded",
    } <= actions


def test_a_shopper_return_waits_for_review_then_is_approved_with_a_confirmation(
    client: Any, api: Any, today: datetime
) -> None:
    owner = shopper()
    delivered_order(api)
    sign_in(client, owner)
    tee = item_id("1001", "TEE-BLK-M")
    form = return_form(
        client,
        **{
            f"item-{tee}-quantity": "2",
            f"item-{tee}-reason": "damaged",
            f"item-{tee}-comment": "Seam open on the left sleeve",
            "resolution": "store_credit",
            "method": "qr_dropoff",
        },
    )
    response = client.post("/orders/1001/returns/new", data=form)
    assert response.status_code == 303
    item = only_return()
    assert item.status == "requested" and item.review_rule == service.RULE_REASON
    assert item.requested_by_user_id == owner.id
    html = page(client.get(f"/returns/{item.rma}"))
    assert "Waiting for approval" in html.text and "We are checking your return" in html.text
    assert html.select_one("#label-status") is None
    # Store credit: the value plus the 10% bonus, as amounts.
    assert "€43.89" in html.text and "€39.90 plus a bonus of €3.99" in html.text
    assert "Seam open on the left sleeve" in html.text

    queue = service.review_queue()
    assert [(entry.return_.rma, entry.rule) for entry in queue] == [(item.rma, "reason_needs_review")]
    assert queue[0].rule_label == "A reason that needs inspection"

    service.approve_return(item, Actor.user(owner.id, "agent@example.com"), note="Looks fine")
    db.session.commit()
    assert service.review_queue() == []
    label = db.session.get(ReturnLabel, item.id)
    assert label is not None and label.state == "pending"
    message = db.session.scalar(select(Message).where(Message.step == "return_confirmation"))
    assert message is not None and message.status == "scheduled"
    assert message.context == {
        "rma": item.rma,
        "return_url": f"http://portal.test/returns/{item.rma}",
        "label_url": f"http://portal.test/returns/{item.rma}/label.pdf",
    }
    # The shopper changes their mind before sending it.
    token = csrf_token(client.get(f"/returns/{item.rma}").get_data(as_text=True))
    assert client.post(f"/returns/{item.rma}/cancel", data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert only_return().status == "cancelled"
    assert client.get(f"/returns/{item.rma}/label.pdf").status_code == 404
    # A page still polling gets an element that stops.
    fragment = page(client.get(f"/returns/{item.rma}", headers={"HX-Request": "true"}))
    status = fragment.select_one("#label-status")
    assert (
        status is not None and not status.has_attr("hx-trigger") and "no longer needs a label" in status.text
    )
    # The items may be returned again.
    assert "Returnable until" in page(client.get("/orders/1001")).select_one("#returns").text


def test_a_large_order_waits_for_review_and_can_be_rejected(client: Any, api: Any, today: datetime) -> None:
    delivered_order(api, total="300.00")
    grant(client, "1001")
    assert client.post("/orders/1001/returns/new", data=return_form(client)).status_code == 303
    item = only_return()
    assert item.status == "requested" and item.review_rule == "order_value"
    service.reject_return(item, Actor.system("agent"), reason="Worn and washed")
    db.session.commit()
    html = page(client.get(f"/returns/{item.rma}"))
    assert "Rejected" in html.text and "Reason: Worn and washed" in html.text


def test_a_double_submit_creates_one_return(client: Any, api: Any, today: datetime) -> None:
    delivered_order(api)
    grant(client, "1001")
    form = return_form(client)
    first = client.post("/orders/1001/returns/new", data=form)
    second = client.post("/orders/1001/returns/new", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Return)) == 1
    assert webhook_types().count("return.requested") == 1


def test_an_exchange_keeps_the_wish(client: Any, api: Any, today: datetime) -> None:
    delivered_order(api)
    grant(client, "1001")
    form = return_form(client, resolution="exchange", exchange_wish="Black / L")
    assert client.post("/orders/1001/returns/new", data=form).status_code == 303
    item = only_return()
    assert item.resolution == "exchange" and item.exchange_wish == "Black / L"
    assert "Black / L" in page(client.get(f"/returns/{item.rma}")).text


def test_the_form_shows_the_credit_bonus_as_an_amount(client: Any, api: Any, today: datetime) -> None:
    delivered_order(api)
    grant(client, "1001")
    html = page(client.get("/orders/1001/returns/new"))
    hint = html.select_one("#resolution-store_credit-hint")
    assert hint is not None and "10% more" in hint.text and "€3.99" in hint.text
    reasons = [
        o["value"] for o in html.select(f"select[name=item-{item_id('1001', 'TEE-BLK-M')}-reason] option")
    ]
    assert reasons == [
        "",
        "too_small",
        "too_large",
        "not_as_described",
        "damaged",
        "wrong_item",
        "changed_mind",
        "other",
    ]
    # The cap cannot be returned: no quantity field for it.
    assert html.select_one(f"input[name=item-{item_id('1001', 'CAP-01')}-quantity]") is None


def test_a_fully_returned_order_gets_no_follow_up_or_survey(client: Any, api: Any, today: datetime) -> None:
    from portal.messaging.service import check_guards, recipient_of

    tee_only = [{"sku": "TEE-BLK-M", "name": "T-shirt", "quantity": 2, "unit_price": "19.95"}]
    assert api.put("/orders/1001", json=order_body(items=tee_only)).status_code == 201
    assert api.put("/orders/1001/shipments/T1001", json=shipment_body()).status_code == 201
    delivered = event_body("d", "delivered", "2026-11-12T12:00:00+00:00", tracking_number="T1001")
    assert api.post("/tracking-events", json=delivered).status_code == 200
    followup = db.session.scalar(select(Message).where(Message.step == "post_delivery_followup"))
    assert followup is not None
    recipient = recipient_of(followup.order)
    assert check_guards(followup, recipient, today).skip_reason != "returned"
    grant(client, "1001")
    form = return_form(client, **{f"item-{item_id('1001', 'TEE-BLK-M')}-quantity": "2"})
    assert client.post("/orders/1001/returns/new", data=form).status_code == 303
    db.session.expire_all()
    followup = db.session.get(Message, followup.id)
    assert check_guards(followup, recipient_of(followup.order), today).skip_reason == "returned"


def test_the_confirmation_e_mail_carries_the_label_link(
    client: Any, api: Any, mailbox: Any, today: datetime
) -> None:
    from portal.messaging import tasks

    owner = shopper()
    delivered_order(api)
    sign_in(client, owner)
    assert client.post("/orders/1001/returns/new", data=return_form(client)).status_code == 303
    item = only_return()
    message = db.session.scalar(select(Message).where(Message.step == "return_confirmation"))
    assert message is not None
    db.session.commit()
    assert tasks.send_message(message.id, None) == "sent"
    [mail] = mailbox.wait_for(1)
    assert item.rma in mail["Subject"]
    body = mail.get_body(("plain",)).get_content()
    assert f"http://portal.test/returns/{item.rma}/label.pdf" in body
