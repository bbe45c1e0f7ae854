"""Turns request bodies into the services' input types, or an Invalid error naming each bad field."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from babel.numbers import get_currency_precision, list_currencies
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from portal.api import schema_check, schemas
from portal.errors import DomainError, Invalid
from portal.orders.service import (
    AddressData,
    ItemData,
    OrderData,
    ShipmentData,
    TrackingEventData,
)

# Times outside this range are mistakes (and near year 1 or 9999 they overflow when moved to UTC).
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200


class MalformedJSON(DomainError):
    status = 400
    code = "malformed_json"


def _refuse_constant(name: str) -> Any:
    raise MalformedJSON(f"The request body contains {name}, which is not valid JSON.")


def parse_json(raw: bytes) -> Any:
    """The decoded body. Raises MalformedJSON with where the syntax breaks."""
    if not raw.strip():
        raise MalformedJSON("The request body is empty; send a JSON object.")
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
        # Lone surrogates ("\ud800") decode from JSON but can be stored by no database.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        return body
    except UnicodeEncodeError:
        raise MalformedJSON("The request body contains invalid Unicode (a lone surrogate).") from None
    except UnicodeDecodeError:
        raise MalformedJSON("The request body is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise MalformedJSON(
            f"The request body is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    except RecursionError:
        raise MalformedJSON("The request body nests too deeply.") from None


_validators: dict[int, tuple[dict[str, Any], Draft202012Validator, schema_check.Check | None]] = {}


def _validator(schema: dict[str, Any]) -> tuple[Draft202012Validator, schema_check.Check | None]:
    # Schemas are long-lived module constants; keeping a reference makes the id key safe.
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        check = schema_check.compile_check(schema)
        cached = _validators[id(schema)] = (schema, Draft202012Validator(schema), check)
    return cached[1], cached[2]


def validate(instance: Any, schema: dict[str, Any]) -> None:
    """Raise Invalid with one message per bad field (paths like `items[0].quantity`)."""
    if not isinstance(instance, dict):
        raise Invalid("The request body must be a JSON object.", fields={"(body)": "Must be a JSON object."})
    validator, surely_valid = _validator(schema)
    if surely_valid is not None and surely_valid(instance):
        return
    fields: dict[str, str] = {}
    for error in validator.iter_errors(instance):
        for path, message in _describe(error):
            fields.setdefault(path, message)
    if fields:
        raise Invalid("Some fields are missing or invalid.", fields=dict(sorted(fields.items())))


def _join(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _type_name(expected: Any) -> str:
    names = {
        "string": "a string",
        "integer": "a whole number",
        "number": "a number",
        "boolean": "true or false",
        "object": "an object",
        "array": "a list",
        "null": "null",
    }
    if isinstance(expected, list):
        return " or ".join(names.get(str(t)) or str(t) for t in expected)
    return names.get(expected, str(expected))


def _describe(error: ValidationError) -> list[tuple[str, str]]:
    path = list(error.absolute_path)
    limit: Any = error.validator_value
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    if kind == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        return [(_join([*path, name]), "This field is required.") for name in limit if name not in present]
    if kind == "additionalProperties":
        known = set(schema.get("properties", {}))
        extra = sorted(set(error.instance) - known) if isinstance(error.instance, dict) else []
        return [(_join([*path, name]), "Unknown field.") for name in extra]
    messages = {
        "type": lambda: f"Must be {_type_name(limit)}.",
        "enum": lambda: "Must be one of: " + ", ".join(str(v) for v in limit if v is not None) + ".",
        "minLength": lambda: "Must not be empty." if limit == 1 else f"Must be at least {limit} characters.",
        "maxLength": lambda: f"Must be at most {limit} characters.",
        "pattern": lambda: schema.get("x-error", "Has an invalid format."),
        "minimum": lambda: f"Must be at least {limit}.",
        "maximum": lambda: f"Must be at most {limit}.",
        "minItems": lambda: f"Must list at least {limit}.",
        "maxItems": lambda: f"Must list at most {limit}.",
    }
    describe = messages.get(str(kind))
    return [(_join(path), describe() if describe else "Is not valid.")]


# --- semantic parsing (after the schema passed) -------------------------------------------------------------


class _Collector:
    """Gathers field errors while parsing, so a client sees every problem at once."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}

    def datetime(self, value: str | None, path: str) -> datetime | None:
        if value is None:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fields[path] = "Must be an ISO-8601 date and time, e.g. 2026-10-14T09:30:00+02:00."
            return None
        if parsed.tzinfo is None:
            self.fields[path] = "Must include a UTC offset, e.g. +02:00 or Z."
            return None
        if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            self.fields[path] = f"Must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}."
            return None
        return parsed

    def money(self, value: str, currency: str | None, path: str) -> Decimal:
        amount = Decimal(value)
        if currency and amount.as_tuple().exponent < -get_currency_precision(currency):  # type: ignore[operator]
            digits = get_currency_precision(currency)
            self.fields[path] = f"{currency} amounts have at most {digits} decimal places."
        return amount

    def raise_if_any(self) -> None:
        if self.fields:
            raise Invalid("Some fields are missing or invalid.", fields=dict(sorted(self.fields.items())))


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def order_data(body: Any) -> OrderData:
    validate(body, schemas.ORDER_INPUT)
    check = _Collector()
    currency = body["currency"]
    if currency not in _known_currencies():
        check.fields["currency"] = f"{currency} is not a known ISO 4217 currency."
        currency = None
    placed_at = check.datetime(body["placed_at"], "placed_at")
    total = check.money(body["total"], currency, "total")
    locale = body.get("locale")
    items = [
        ItemData(
            sku=item["sku"],
            name=item["name"],
            variant=item.get("variant") or None,
            quantity=item["quantity"],
            unit_price=check.money(item["unit_price"], currency, f"items[{index}].unit_price"),
            returnable=item.get("returnable", True),
            image_url=item.get("image_url"),
        )
        for index, item in enumerate(body["items"])
    ]
    address = body["shipping_address"]
    if not _email_ok(body["email"]):
        check.fields["email"] = "Must be a valid e-mail address."
    check.raise_if_any()
    assert placed_at is not None
    return OrderData(
        email=body["email"],
        customer_name=body["customer_name"].strip(),
        phone=body.get("phone"),
        locale=locale.replace("_", "-") if locale else None,
        placed_at=placed_at,
        currency=body["currency"],
        total=total,
        status=body.get("status"),
        shipping_address=AddressData(
            name=address["name"],
            line1=address["line1"],
            line2=address.get("line2") or None,
            city=address["city"],
            postal_code=address["postal_code"],
            region=address.get("region") or None,
            country=address["country"],
        ),
        items=items,
    )


def _email_ok(value: str) -> bool:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def order_event(body: Any) -> tuple[str, datetime]:
    validate(body, schemas.ORDER_EVENT_INPUT)
    check = _Collector()
    occurred_at = check.datetime(body["occurred_at"], "occurred_at")
    check.raise_if_any()
    assert occurred_at is not None
    return body["type"], occurred_at


def shipment_data(body: Any) -> ShipmentData:
    validate(body, schemas.SHIPMENT_INPUT)
    check = _Collector()
    shipped_at = check.datetime(body.get("shipped_at"), "shipped_at")
    window = body.get("promised_delivery") or {}
    earliest = check.datetime(window.get("earliest"), "promised_delivery.earliest")
    latest = check.datetime(window.get("latest"), "promised_delivery.latest")
    if earliest and latest and latest < earliest:
        check.fields["promised_delivery.latest"] = "Must not be before earliest."
    check.raise_if_any()
    return ShipmentData(
        carrier=body["carrier"],
        service=body.get("service") or None,
        shipped_at=shipped_at,
        items=[(line["sku"], line["quantity"]) for line in body["items"]],
        promised_earliest=earliest,
        promised_latest=latest,
    )


def tracking_events(body: Any, max_events: int) -> list[TrackingEventData]:
    batch = isinstance(body, dict) and "events" in body
    validate(body, schemas.tracking_event_batch(max_events) if batch else schemas.TRACKING_EVENT_INPUT)
    raw_events = body["events"] if batch else [body]
    check = _Collector()
    parsed = []
    for index, event in enumerate(raw_events):
        prefix = f"events[{index}]." if batch else ""
        occurred_at = check.datetime(event["occurred_at"], f"{prefix}occurred_at")
        location = event.get("location") or {}
        if occurred_at is None:
            continue
        parsed.append(
            TrackingEventData(
                event_id=event["event_id"],
                tracking_number=event["tracking_number"],
                status=event["status"],
                occurred_at=occurred_at,
                description=event.get("description") or None,
                raw_status=event.get("raw_status") or None,
                city=location.get("city") or None,
                region=location.get("region") or None,
                country=location.get("country") or None,
                lat=location.get("lat"),
                lon=location.get("lon"),
            )
        )
    check.raise_if_any()
    return parsed


def check_identifier(value: str, field: str) -> None:
    if not re.fullmatch(schemas.IDENTIFIER, value):
        raise Invalid("The URL is not valid.", fields={field: str(schemas.IDENTIFIER_STRING["x-error"])})


def return_event(body: Any) -> tuple[str, datetime, str | None]:
    """(type, occurred_at, note) of a warehouse report about a return."""
    validate(body, schemas.RETURN_EVENT_INPUT)
    check = _Collector()
    occurred_at = check.datetime(body["occurred_at"], "occurred_at")
    note = (body.get("note") or "").strip() or None
    if body["type"] == "rejected" and not note:
        check.fields["note"] = "Give the reason when rejecting a return."
    check.raise_if_any()
    assert occurred_at is not None
    return body["type"], occurred_at, note


def return_status(value: str | None) -> str | None:
    """The `status` filter of the returns list; None for all."""
    if value is None or value == "":
        return None
    if value not in schemas.RETURN_STATUSES:
        raise Invalid(
            "Unknown return status.",
            fields={"status": "Must be one of: " + ", ".join(schemas.RETURN_STATUSES) + "."},
        )
    return value


def list_limit(value: str | None, default: int = 100, maximum: int = 500) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not 1 <= int(value) <= maximum:
        raise Invalid("Invalid limit.", fields={"limit": f"Must be a whole number from 1 to {maximum}."})
    return int(value)
