"""The OpenAPI 3.1 document, built from the same schemas the API validates with."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import current_app

from portal.api import schemas
from portal.loyalty.serialize import REDEMPTION_OUTPUT


def _strip_extensions(value: Any) -> Any:
    # `x-error` is ours; OpenAPI allows x- keys in schemas, but keep the published document plain.
    if isinstance(value, dict):
        return {k: _strip_extensions(v) for k, v in value.items() if k != "x-error"}
    if isinstance(value, list):
        return [_strip_extensions(v) for v in value]
    return value


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "Malformed JSON"),
    "401": _json(_ref("Error"), "Missing or invalid bearer token"),
    "413": _json(_ref("Error"), "Body too large"),
    "422": _json(_ref("Error"), "Invalid fields; `error.fields` names each one"),
}


def _path_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "pattern": schemas.IDENTIFIER},
    }


@cache
def _document(max_batch: int) -> dict[str, Any]:
    number = _path_param("number", "The shop's order number")
    tracking = _path_param("tracking_number", "The carrier's tracking number")
    components = {
        "OrderInput": schemas.ORDER_INPUT,
        "OrderEventInput": schemas.ORDER_EVENT_INPUT,
        "ShipmentInput": schemas.SHIPMENT_INPUT,
        "TrackingEventInput": schemas.TRACKING_EVENT_INPUT,
        "TrackingEventBatch": schemas.tracking_event_batch(max_batch),
        "Order": schemas.ORDER_OUTPUT,
        "Shipment": schemas.SHIPMENT_OUTPUT,
        "OrderEventResult": schemas.ORDER_EVENT_OUTPUT,
        "IngestResult": schemas.INGEST_OUTPUT,
        "Error": schemas.ERROR_OUTPUT,
        "Return": schemas.RETURN_OUTPUT,
        "ReturnList": schemas.RETURN_LIST_OUTPUT,
        "ReturnEventInput": schemas.RETURN_EVENT_INPUT,
        "ReturnEventResult": schemas.RETURN_EVENT_OUTPUT,
        "LoyaltyCode": REDEMPTION_OUTPUT,
    }
    rma = _path_param("rma", "The return's RMA number, e.g. R-7KQ4MZ")
    paths = {
        "/orders/{number}": {
            "parameters": [number],
            "put": {
                "operationId": "putOrder",
                "summary": "Create or update an order (idempotent)",
                "requestBody": {"required": True, **_json(_ref("OrderInput"), "The order")},
                "responses": {
                    "200": _json(_ref("Order"), "Updated"),
                    "201": _json(_ref("Order"), "Created"),
                    "409": _json(_ref("Error"), "Conflicts with the order's state"),
                    **ERRORS,
                },
            },
            "get": {
                "operationId": "getOrder",
                "summary": "The order with shipments, tracking events, instructions, returns and messages",
                "responses": {
                    "200": _json(_ref("Order"), "The order"),
                    "404": _json(_ref("Error"), "No such order"),
                    **ERRORS,
                },
            },
        },
        "/orders/{number}/events": {
            "parameters": [number],
            "post": {
                "operationId": "postOrderEvent",
                "summary": "Record that an order was paid, fulfilled or cancelled (idempotent per type)",
                "requestBody": {"required": True, **_json(_ref("OrderEventInput"), "The event")},
                "responses": {
                    "200": _json(_ref("OrderEventResult"), "Already recorded"),
                    "201": _json(_ref("OrderEventResult"), "Recorded"),
                    "404": _json(_ref("Error"), "No such order"),
                    "409": _json(_ref("Error"), "The order is cancelled"),
                    **ERRORS,
                },
            },
        },
        "/orders/{number}/shipments/{tracking_number}": {
            "parameters": [number, tracking],
            "put": {
                "operationId": "putShipment",
                "summary": "Create or update a shipment (idempotent)",
                "requestBody": {"required": True, **_json(_ref("ShipmentInput"), "The shipment")},
                "responses": {
                    "200": _json(_ref("Shipment"), "Updated"),
                    "201": _json(_ref("Shipment"), "Created"),
                    "404": _json(_ref("Error"), "No such order"),
                    "409": _json(_ref("Error"), "Order cancelled, or the tracking number is another order's"),
                    **ERRORS,
                },
            },
        },
        "/tracking-events": {
            "post": {
                "operationId": "postTrackingEvents",
                "summary": "Store one tracking event or a batch; the same event_id is stored once",
                "description": "Events whose tracking number is not yet known are stored unmatched "
                "(`matched: false`) and attached when the shipment is created.",
                "requestBody": {
                    "required": True,
                    **_json(
                        {"oneOf": [_ref("TrackingEventInput"), _ref("TrackingEventBatch")]},
                        'One event or {"events": [...]}',
                    ),
                },
                "responses": {"200": _json(_ref("IngestResult"), "What was stored"), **ERRORS},
            },
        },
        "/returns": {
            "get": {
                "operationId": "listReturns",
                "summary": "Returns for the warehouse, oldest first",
                "parameters": [
                    {
                        "name": "status",
                        "in": "query",
                        "required": False,
                        "description": "Only returns in this status (e.g. label_ready or in_transit)",
                        "schema": {"type": "string", "enum": schemas.RETURN_STATUSES},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "description": "At most this many (default 100)",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {"200": _json(_ref("ReturnList"), "The returns"), **ERRORS},
            },
        },
        "/returns/{rma}/events": {
            "parameters": [rma],
            "post": {
                "operationId": "postReturnEvent",
                "summary": "Report a return received, refunded, credited or rejected (idempotent per type)",
                "requestBody": {"required": True, **_json(_ref("ReturnEventInput"), "The event")},
                "responses": {
                    "200": _json(_ref("ReturnEventResult"), "Already recorded"),
                    "201": _json(_ref("ReturnEventResult"), "Recorded"),
                    "404": _json(_ref("Error"), "No such return"),
                    "409": _json(_ref("Error"), "Not possible in the return's current status"),
                    **ERRORS,
                },
            },
        },
        "/loyalty/codes/{code}/used": {
            "parameters": [_path_param("code", "A store-credit code from a `loyalty.redeemed` webhook")],
            "post": {
                "operationId": "markLoyaltyCodeUsed",
                "summary": "Report a store-credit code from a loyalty redemption as used",
                "responses": {
                    "200": _json(_ref("LoyaltyCode"), "Marked used"),
                    "404": _json(_ref("Error"), "No such code"),
                    "409": _json(_ref("Error"), "Used already"),
                    **ERRORS,
                },
            },
        },
    }
    document = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "Doorstep API",
            "version": "1.0.0",
            "description": "Orders, shipments and tracking events in; orders with their story out. "
            "Times are ISO-8601 with an offset; money is a decimal string in the order's currency.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `flask portal create-api-client`",
                }
            },
            "schemas": components,
        },
        "paths": paths,
    }
    return _strip_extensions(document)


def openapi_document() -> dict[str, Any]:
    return _document(current_app.config["API_MAX_BATCH_EVENTS"])
