"""The warehouse side of returns in the JSON API: the list by status, its reports, the order's returns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from portal.audit import Actor
from portal.extensions import db
from portal.returns.service import LineRequest, ReturnRequest, request_return
from tests.returns.conftest import delivered_order, item_id


def make_return(api: Any, number: str = "1001", reason: str = "too_small", **order: Any) -> str:
    placed = delivered_order(api, number, **order)
    line = LineRequest(item_id(number, "TEE-BLK-M"), 2, reason, "Broken" if reason == "damaged" else None)
    item, _ = request_return(
        placed,
        ReturnRequest([line], "store_credit", "qr_dropoff", f"api-{number}-000000000"),
        Actor.system("t"),
    )
    db.session.commit()
    return item.rma


def matches(client: Any, path: str, method: str, response: Any) -> None:
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"][path][method]
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    errors = list(
        Draft202012Validator({"components": document["components"], **schema}).iter_errors(response.json)
    )
    assert not errors, [e.message for e in errors]


def test_the_warehouse_lists_returns_by_status(client: Any, api: Any, today: datetime) -> None:
    approved = make_return(api, "1001")
    waiting = make_return(api, "2002", reason="damaged", email="other@example.com")
    everything = api.get("/returns")
    assert everything.status_code == 200
    matches(client, "/returns", "get", everything)
    assert [r["rma"] for r in everything.json["returns"]] == [approved, waiting]
    listed = api.get("/returns?status=approved").json["returns"]
    assert [r["rma"] for r in listed] == [approved]
    first = listed[0]
    assert first["order_number"] == "1001" and first["tracking_number"] == approved
    assert first["refund_amount"] == "39.90" and first["credit_bonus"] == "3.99"
    assert first["lines"] == [
        {
            "sku": "TEE-BLK-M",
            "name": "T-shirt",
            "variant": "Black / M",
            "quantity": 2,
            "reason": "too_small",
            "comment": None,
        }
    ]
    assert first["label"]["state"] == "pending"
    assert [r["rma"] for r in api.get("/returns?status=requested").json["returns"]] == [waiting]
    assert api.get("/returns?status=requested").json["returns"][0]["review_rule"] == "reason_needs_review"
    assert api.get("/returns?limit=1").json["returns"][0]["rma"] == approved


@pytest.mark.parametrize("query", ["status=lost", "limit=0", "limit=abc", "limit=501"])
def test_bad_filters_are_422(client: Any, api: Any, query: str) -> None:
    response = api.get(f"/returns?{query}")
    assert response.status_code == 422
    matches(client, "/returns", "get", response)


def test_warehouse_reports_move_the_return_once(client: Any, api: Any, today: datetime) -> None:
    rma = make_return(api)
    path = "/returns/{rma}/events"
    body = {"type": "credited", "occurred_at": "2026-11-21T10:00:00Z"}
    too_early = api.post(f"/returns/{rma}/events", json=body)
    assert too_early.status_code == 409 and too_early.json["error"]["code"] == "return_state"
    matches(client, path, "post", too_early)
    received = {"type": "received", "occurred_at": "2026-11-21T10:00:00Z", "note": "Box dented"}
    first = api.post(f"/returns/{rma}/events", json=received)
    assert first.status_code == 201
    assert first.json == {"rma": rma, "status": "received", "event": "received", "recorded": True}
    matches(client, path, "post", first)
    again = api.post(f"/returns/{rma}/events", json=received)
    assert again.status_code == 200 and again.json["recorded"] is False
    matches(client, path, "post", again)
    assert api.post(f"/returns/{rma}/events", json=body).status_code == 201
    order = api.get("/orders/1001").json
    [listed] = order["returns"]
    assert listed["status"] == "credited"
    assert [e["status"] for e in listed["events"]] == ["requested", "approved", "received", "credited"]
    assert listed["events"][2]["note"] == "Box dented"
    matches(client, "/orders/{number}", "get", api.get("/orders/1001"))


def test_report_errors(client: Any, api: Any, today: datetime) -> None:
    rma = make_return(api)
    path = "/returns/{rma}/events"
    unknown = api.post(
        "/returns/R-NOPE99/events", json={"type": "received", "occurred_at": "2026-11-21T10:00:00Z"}
    )
    assert unknown.status_code == 404
    matches(client, path, "post", unknown)
    no_reason = api.post(
        f"/returns/{rma}/events", json={"type": "rejected", "occurred_at": "2026-11-21T10:00:00Z"}
    )
    assert no_reason.status_code == 422 and "note" in no_reason.json["error"]["fields"]
    bad = api.post(f"/returns/{rma}/events", json={"type": "lost", "occurred_at": "yesterday"})
    assert bad.status_code == 422 and "type" in bad.json["error"]["fields"]
    matches(client, path, "post", bad)
    rejected = {"type": "rejected", "occurred_at": "2026-11-21T10:00:00Z", "note": "Worn"}
    assert api.post(f"/returns/{rma}/events", json=rejected).status_code == 201
    assert api.get("/returns?status=rejected").json["returns"][0]["rma"] == rma
