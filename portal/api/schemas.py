"""JSON Schemas (2020-12, as OpenAPI 3.1 uses) of the API's bodies: one source for validation and the docs.

`x-error` on a schema gives the message shown when its pattern does not match.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from portal.orders.models import TRACKING_STATUSES

SINGLE_LINE = r"^[^\u0000-\u001f\u007f]*$"
IDENTIFIER = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
MONEY = r"^[0-9]{1,11}(\.[0-9]{1,3})?$"


def text(max_length: int, min_length: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": min_length,
        "maxLength": max_length,
        "pattern": SINGLE_LINE,
        "x-error": "Must be a single line without control characters.",
        **extra,
    }


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


DATE_TIME = {
    "type": "string",
    "format": "date-time",
    "maxLength": 40,
    "description": "ISO-8601 with an offset, e.g. 2026-10-14T09:30:00+02:00",
}
MONEY_STRING = {
    "type": "string",
    "pattern": MONEY,
    "x-error": 'Must be a decimal string such as "18.00".',
    "examples": ["18.00"],
}
COUNTRY = {
    "type": "string",
    "pattern": "^[A-Z]{2}$",
    "x-error": "Must be an ISO 3166-1 alpha-2 code such as DE.",
}
TRACKING_STATUS = {"type": "string", "enum": list(TRACKING_STATUSES)}
IDENTIFIER_STRING = {
    "type": "string",
    "pattern": IDENTIFIER,
    "x-error": "Use 1–64 letters, digits, dots, dashes or underscores.",
}

ADDRESS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "line1", "city", "postal_code", "country"],
    "properties": {
        "name": text(200),
        "line1": text(200),
        "line2": optional(text(200, min_length=0)),
        "city": text(100),
        "postal_code": text(20),
        "region": optional(text(100, min_length=0)),
        "country": COUNTRY,
    },
}

ORDER_ITEM_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["sku", "name", "quantity", "unit_price"],
    "properties": {
        "sku": text(64),
        "name": text(200),
        "variant": optional(text(200, min_length=0)),
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
        "unit_price": MONEY_STRING,
        "returnable": {"type": "boolean", "default": True},
        "image_url": optional(
            {
                "type": "string",
                "maxLength": 500,
                "pattern": "^https://[^\\s\\u0000-\\u001f\\u007f]+$",
                "x-error": "Must be an https:// URL.",
            }
        ),
    },
}

ORDER_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["email", "customer_name", "placed_at", "currency", "total", "shipping_address", "items"],
    "properties": {
        "email": {"type": "string", "format": "email", "minLength": 3, "maxLength": 254},
        "customer_name": text(200),
        "phone": optional(
            {
                "type": "string",
                "pattern": "^\\+?[0-9 ()./-]{3,31}$",
                "maxLength": 32,
                "x-error": "Must be a phone number of digits, spaces and + ( ) . / -.",
            }
        ),
        "locale": optional(
            {
                "type": "string",
                "pattern": "^[a-z]{2}([-_][A-Za-z]{2})?$",
                "x-error": "Must be a language code such as de or en-GB.",
            }
        ),
        "placed_at": DATE_TIME,
        "currency": {
            "type": "string",
            "pattern": "^[A-Z]{3}$",
            "x-error": "Must be an ISO 4217 code such as EUR.",
        },
        "total": MONEY_STRING,
        "status": {"type": "string", "enum": ["placed", "paid", "cancelled"]},
        "shipping_address": ADDRESS,
        "items": {"type": "array", "minItems": 1, "maxItems": 500, "items": ORDER_ITEM_INPUT},
    },
}

ORDER_EVENT_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "occurred_at"],
    "properties": {
        "type": {"type": "string", "enum": ["paid", "fulfilled", "cancelled"]},
        "occurred_at": DATE_TIME,
    },
}

WINDOW = {
    "type": "object",
    "additionalProperties": False,
    "required": ["earliest", "latest"],
    "properties": {"earliest": DATE_TIME, "latest": DATE_TIME},
}

SHIPMENT_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["carrier", "items"],
    "properties": {
        "carrier": text(64),
        "service": optional(text(64, min_length=0)),
        "shipped_at": optional(DATE_TIME),
        "items": {
            "type": "array",
            "minItems": 1,
            "maxItems": 500,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["sku", "quantity"],
                "properties": {
                    "sku": text(64),
                    "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
                },
            },
        },
        "promised_delivery": optional(WINDOW),
    },
}

LOCATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "city": optional(text(100, min_length=0)),
        "region": optional(text(100, min_length=0)),
        "country": optional(COUNTRY),
        "lat": optional({"type": "number", "minimum": -90, "maximum": 90}),
        "lon": optional({"type": "number", "minimum": -180, "maximum": 180}),
    },
}

TRACKING_EVENT_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["event_id", "tracking_number", "status", "occurred_at"],
    "properties": {
        "event_id": text(128),
        "tracking_number": IDENTIFIER_STRING,
        "status": TRACKING_STATUS,
        "occurred_at": DATE_TIME,
        "description": optional(text(500, min_length=0)),
        "raw_status": optional(text(100, min_length=0)),
        "location": optional(LOCATION),
    },
}


@cache
def tracking_event_batch(max_events: int) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": max_events, "items": TRACKING_EVENT_INPUT},
        },
    }


RETURN_EVENT_INPUT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["type", "occurred_at"],
    "properties": {
        "type": {"type": "string", "enum": ["received", "refunded", "credited", "rejected"]},
        "occurred_at": DATE_TIME,
        "note": {
            **optional(text(1000, min_length=0)),
            "description": "Shown to the customer; required when rejecting (the reason).",
        },
    },
}

RETURN_STATUSES = [
    "requested",
    "approved",
    "label_ready",
    "in_transit",
    "received",
    "refunded",
    "credited",
    "rejected",
    "cancelled",
]

# --- responses ----------------------------------------------------------------------------------------------

NULLABLE_DATE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}

WINDOW_OUTPUT = {
    "type": ["object", "null"],
    "required": ["earliest", "latest"],
    "properties": {
        "earliest": {"type": "string", "format": "date-time"},
        "latest": {"type": "string", "format": "date-time"},
    },
}

TRACKING_EVENT_OUTPUT = {
    "type": "object",
    "required": ["event_id", "status", "occurred_at", "description", "raw_status", "location"],
    "properties": {
        "event_id": {"type": "string"},
        "status": TRACKING_STATUS,
        "occurred_at": {"type": "string", "format": "date-time"},
        "description": NULLABLE_STRING,
        "raw_status": NULLABLE_STRING,
        "location": {
            "type": ["object", "null"],
            "properties": {
                "city": NULLABLE_STRING,
                "region": NULLABLE_STRING,
                "country": NULLABLE_STRING,
                "lat": {"type": ["number", "null"]},
                "lon": {"type": ["number", "null"]},
            },
        },
    },
}

INSTRUCTIONS_OUTPUT = {
    "type": ["object", "null"],
    "description": "The current delivery instructions, access code included; null when none were given.",
    "required": [
        "version",
        "updated_at",
        "changed_by",
        "safe_place",
        "safe_place_details",
        "neighbour",
        "access_code",
        "note",
        "preferred_date",
    ],
    "properties": {
        "version": {"type": "integer", "minimum": 1, "description": "Counts up with every change."},
        "updated_at": {"type": "string", "format": "date-time"},
        "changed_by": {"type": "string", "enum": ["customer", "guest", "staff"]},
        "safe_place": {
            "type": ["string", "null"],
            "enum": ["front_door", "back_door", "porch", "garage", "reception", "neighbour", "other", None],
        },
        "safe_place_details": {**NULLABLE_STRING, "description": "Where exactly, when safe_place is other."},
        "neighbour": {
            "type": ["object", "null"],
            "required": ["name", "house_number"],
            "properties": {"name": {"type": "string"}, "house_number": NULLABLE_STRING},
        },
        "access_code": NULLABLE_STRING,
        "note": {**NULLABLE_STRING, "description": "Plain text; may hold line breaks."},
        "preferred_date": {"type": ["string", "null"], "format": "date"},
    },
}

SHIPMENT_OUTPUT = {
    "type": "object",
    "required": [
        "tracking_number",
        "carrier",
        "service",
        "shipped_at",
        "status",
        "last_event_at",
        "delivered_at",
        "items",
        "promised_delivery",
        "predicted_delivery",
        "instructions",
        "tracking_events",
    ],
    "properties": {
        "tracking_number": {"type": "string"},
        "carrier": {"type": "string"},
        "service": NULLABLE_STRING,
        "shipped_at": NULLABLE_DATE_TIME,
        "status": {"type": ["string", "null"], "enum": [*TRACKING_STATUS["enum"], None]},
        "last_event_at": NULLABLE_DATE_TIME,
        "delivered_at": NULLABLE_DATE_TIME,
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "quantity"],
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
            },
        },
        "promised_delivery": WINDOW_OUTPUT,
        "predicted_delivery": WINDOW_OUTPUT,
        "instructions": INSTRUCTIONS_OUTPUT,
        "tracking_events": {"type": "array", "items": TRACKING_EVENT_OUTPUT},
    },
}

RETURN_OUTPUT = {
    "type": "object",
    "required": [
        "rma",
        "order_number",
        "status",
        "resolution",
        "exchange_wish",
        "method",
        "currency",
        "refund_amount",
        "credit_bonus",
        "tracking_number",
        "review_rule",
        "created_at",
        "lines",
        "label",
        "events",
    ],
    "properties": {
        "rma": {"type": "string", "description": "The return's number, e.g. R-7KQ4MZ"},
        "order_number": {"type": "string"},
        "status": {"type": "string", "enum": RETURN_STATUSES},
        "resolution": {"type": "string", "enum": ["refund", "store_credit", "exchange"]},
        "exchange_wish": {**NULLABLE_STRING, "description": "For an exchange: the size or colour wanted."},
        "method": {"type": "string", "enum": ["label", "qr_dropoff"]},
        "currency": {"type": "string"},
        "refund_amount": {"type": "string", "description": "The value of the returned items."},
        "credit_bonus": {
            "type": "string",
            "description": "Added on top when the customer chose store credit.",
        },
        "tracking_number": {
            "type": "string",
            "description": "The return parcel's number (its scans move it).",
        },
        "review_rule": {
            **NULLABLE_STRING,
            "description": "Why it waits for staff; null when approved by rule.",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "lines": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "name", "variant", "quantity", "reason", "comment"],
                "properties": {
                    "sku": {"type": "string"},
                    "name": {"type": "string"},
                    "variant": NULLABLE_STRING,
                    "quantity": {"type": "integer", "minimum": 1},
                    "reason": {"type": "string"},
                    "comment": NULLABLE_STRING,
                },
            },
        },
        "label": {
            "type": ["object", "null"],
            "required": ["state", "sha256", "generated_at"],
            "properties": {
                "state": {"type": "string", "enum": ["pending", "rendering", "ready", "failed"]},
                "sha256": NULLABLE_STRING,
                "generated_at": NULLABLE_DATE_TIME,
            },
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["status", "occurred_at", "note"],
                "properties": {
                    "status": {"type": "string", "enum": RETURN_STATUSES},
                    "occurred_at": {"type": "string", "format": "date-time"},
                    "note": NULLABLE_STRING,
                },
            },
        },
    },
}

RETURN_LIST_OUTPUT = {
    "type": "object",
    "required": ["returns"],
    "properties": {"returns": {"type": "array", "items": RETURN_OUTPUT}},
}

RETURN_EVENT_OUTPUT = {
    "type": "object",
    "required": ["rma", "status", "event", "recorded"],
    "properties": {
        "rma": {"type": "string"},
        "status": {"type": "string", "enum": RETURN_STATUSES},
        "event": {"type": "string"},
        "recorded": {"type": "boolean", "description": "false when this event had already been recorded"},
    },
}

ORDER_OUTPUT = {
    "type": "object",
    "required": [
        "number",
        "email",
        "customer_name",
        "phone",
        "locale",
        "placed_at",
        "currency",
        "total",
        "status",
        "shipping_address",
        "items",
        "events",
        "shipments",
        "returns",
        "messages",
    ],
    "properties": {
        "number": {"type": "string"},
        "email": {"type": "string"},
        "customer_name": {"type": "string"},
        "phone": NULLABLE_STRING,
        "locale": NULLABLE_STRING,
        "placed_at": {"type": "string", "format": "date-time"},
        "currency": {"type": "string"},
        "total": {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"},
        "status": {"type": "string", "enum": ["placed", "paid", "fulfilled", "cancelled"]},
        "shipping_address": {
            "type": "object",
            "required": ["name", "line1", "line2", "city", "postal_code", "region", "country"],
            "properties": {
                "name": {"type": "string"},
                "line1": {"type": "string"},
                "line2": NULLABLE_STRING,
                "city": {"type": "string"},
                "postal_code": {"type": "string"},
                "region": NULLABLE_STRING,
                "country": {"type": "string"},
            },
        },
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "name", "variant", "quantity", "unit_price", "returnable"],
                "properties": {
                    "sku": {"type": "string"},
                    "name": {"type": "string"},
                    "variant": NULLABLE_STRING,
                    "quantity": {"type": "integer"},
                    "unit_price": {"type": "string"},
                    "returnable": {"type": "boolean"},
                    "image_url": NULLABLE_STRING,
                },
            },
        },
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "occurred_at"],
                "properties": {
                    "type": {"type": "string"},
                    "occurred_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "shipments": {"type": "array", "items": SHIPMENT_OUTPUT},
        "returns": {"type": "array", "items": RETURN_OUTPUT},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["step", "channel", "status", "due_at", "sent_at"],
                "properties": {
                    "step": {"type": "string"},
                    "channel": {"type": "string", "enum": ["email", "sms"]},
                    "status": {
                        "type": "string",
                        "enum": ["scheduled", "sending", "sent", "skipped", "failed"],
                    },
                    "reason": {**NULLABLE_STRING, "description": "Why it was skipped, or the last error."},
                    "tracking_number": {**NULLABLE_STRING, "description": "The parcel, for parcel steps."},
                    "attempts": {"type": "integer", "minimum": 0},
                    "due_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "When it is (or was) due; deferrals and retries move it.",
                    },
                    "sent_at": NULLABLE_DATE_TIME,
                },
            },
        },
    },
}

ORDER_EVENT_OUTPUT = {
    "type": "object",
    "required": ["number", "status", "event", "recorded"],
    "properties": {
        "number": {"type": "string"},
        "status": {"type": "string"},
        "event": {"type": "string"},
        "recorded": {"type": "boolean", "description": "false when this event had already been recorded"},
    },
}

INGEST_OUTPUT = {
    "type": "object",
    "required": ["received", "stored", "duplicates", "unmatched", "events"],
    "properties": {
        "received": {"type": "integer"},
        "stored": {"type": "integer"},
        "duplicates": {"type": "integer"},
        "unmatched": {"type": "integer"},
        "events": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event_id", "result", "matched"],
                "properties": {
                    "event_id": {"type": "string"},
                    "result": {"type": "string", "enum": ["stored", "duplicate"]},
                    "matched": {"type": "boolean"},
                },
            },
        },
    },
}

ERROR_OUTPUT = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
    },
}
