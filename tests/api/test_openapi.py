"""The OpenAPI document is valid, and real responses of every operation match it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec

from tests.factories import event_body, order_body, shipment_body

formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _is_datetime_with_offset(value: object) -> bool:
    if not isinstance(value, str):
        return True
    return datetime.fromisoformat(value).tzinfo is not None


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate_spec(document)


def response_schema(document: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    operation = document["paths"][path][method]
    schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    return {"components": document["components"], **schema}


def check(document: dict[str, Any], path: str, method: str, response: Any) -> None:
    schema = response_schema(document, path, method, response.status_code)
    errors = sorted(Draft202012Validator(schema, format_checker=formats).iter_errors(response.json), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def test_real_responses_match_the_document(api: Any, document: dict[str, Any]) -> None:
    order = "/orders/{number}"
    shipment = "/orders/{number}/shipments/{tracking_number}"
    check(document, order, "put", api.put("/orders/1001", json=order_body()))
    check(document, order, "put", api.put("/orders/1001", json=order_body(status="paid")))
    check(document, order, "put", api.put("/orders/1001", json=order_body(currency="nope")))
    check(document, shipment, "put", api.put("/orders/1001/shipments/JJD0001", json=shipment_body()))
    check(document, shipment, "put", api.put("/orders/1001/shipments/JJD0001", json=shipment_body()))
    check(document, shipment, "put", api.put("/orders/404/shipments/JJD0001", json=shipment_body()))
    events = "/orders/{number}/events"
    body = {"type": "fulfilled", "occurred_at": "2026-10-11T10:00:00Z"}
    check(document, events, "post", api.post("/orders/1001/events", json=body))
    check(document, events, "post", api.post("/orders/1001/events", json=body))
    location = {"city": "Köln", "country": "DE", "lat": 50.9, "lon": 6.9}
    batch = {
        "events": [
            event_body("e1", "in_transit", "2026-10-12T08:00:00+02:00", location=location),
            event_body("e2", "delivered", "2026-10-13T08:00:00+02:00", description="Handed over"),
            event_body("e3", "in_transit", "2026-10-12T08:00:00Z", tracking_number="OTHER"),
        ]
    }
    check(document, "/tracking-events", "post", api.post("/tracking-events", json=batch))
    check(document, "/tracking-events", "post", api.post("/tracking-events", json={"events": []}))
    got = api.get("/orders/1001")
    check(document, order, "get", got)
    assert got.json["shipments"][0]["status"] == "delivered"
    check(document, order, "get", api.get("/orders/missing"))
    check(document, order, "get", api.client.get("/api/v1/orders/1001"))
