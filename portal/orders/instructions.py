"""Delivery instructions: checking what is asked for, saving it as a new version (which queues the shop's
webhook and announces `delivery_instructions_changed`), and showing it. The cut-off rules are in
`instruction_rules`."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from typing import Any, Literal

from flask_babel import format_date, gettext
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError

from portal import audit
from portal.audit import Actor
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.orders import signals
from portal.orders.access import Viewer
from portal.orders.instruction_rules import InstructionRules, edit_window
from portal.orders.instructions_models import (
    INSTRUCTION_FIELDS,
    MAX_ACCESS_CODE_LENGTH,
    MAX_HOUSE_NUMBER_LENGTH,
    MAX_NEIGHBOUR_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_SAFE_PLACE_OTHER_LENGTH,
    SAFE_PLACES,
    DeliveryInstructionVersion,
)
from portal.orders.models import Order, Shipment
from portal.webhooks.service import queue_webhook

WEBHOOK_TYPE = "delivery_instructions.updated"

SAFE_PLACE_LABELS: dict[str, LazyString] = {
    "front_door": _l("At the front door"),
    "back_door": _l("At the back door"),
    "porch": _l("In the porch"),
    "garage": _l("In the garage"),
    "reception": _l("At reception"),
    "neighbour": _l("With a neighbour"),
    "other": _l("Somewhere else"),
}

LENGTH_LIMITS = {
    "safe_place_other": MAX_SAFE_PLACE_OTHER_LENGTH,
    "neighbour_name": MAX_NEIGHBOUR_NAME_LENGTH,
    "neighbour_house_number": MAX_HOUSE_NUMBER_LENGTH,
    "access_code": MAX_ACCESS_CODE_LENGTH,
    "note": MAX_NOTE_LENGTH,
}
# The note may span lines; every other text is a single line.
MULTI_LINE_FIELDS = frozenset({"note"})


class InstructionsClosed(Conflict):
    """The cut-off has passed (or the parcel's state rules changes out); the message says why."""

    code = "instructions_closed"


class InstructionsChanged(Conflict):
    """Someone saved a newer version since the one this change was based on; `current` is that version when
    known (None after a lost race on the version number, where the caller must roll back first)."""

    code = "instructions_changed"

    def __init__(self, message: str, current: DeliveryInstructionVersion | None):
        super().__init__(message)
        self.current = current


@dataclass(frozen=True)
class InstructionsData:
    """What a person asks for. Empty texts mean "none"; see `normalise` for how the parts depend on each
    other."""

    safe_place: str | None = None
    safe_place_other: str | None = None
    neighbour_name: str | None = None
    neighbour_house_number: str | None = None
    access_code: str | None = None
    note: str | None = None
    preferred_date: date | None = None

    @classmethod
    def from_version(cls, version: DeliveryInstructionVersion | None) -> InstructionsData:
        if version is None:
            return cls()
        return cls(**{name: getattr(version, name) for name in INSTRUCTION_FIELDS})

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(frozen=True)
class Change:
    version: DeliveryInstructionVersion | None
    changed: bool


# --- reading ------------------------------------------------------------------------------------------------


def shipment_for_viewer(number: str, tracking_number: str, viewer: Viewer, *, lock: bool = False) -> Shipment:
    """The shipment `tracking_number` of order `number`, if `viewer` may see the order.

    Raises NotFound otherwise, whether the shipment is missing or someone else's.
    """
    query = (
        select(Shipment)
        .join(Order, Shipment.order_id == Order.id)
        .where(Order.number == number, Shipment.tracking_number == tracking_number)
    )
    if lock:
        query = query.with_for_update(of=Shipment)
    shipment = db.session.scalar(query)
    if shipment is None or not viewer.may_see(shipment.order):
        raise NotFound("No such parcel.", code="shipment_not_found")
    return shipment


def current_version(shipment_id: int) -> DeliveryInstructionVersion | None:
    return db.session.scalar(
        select(DeliveryInstructionVersion)
        .where(DeliveryInstructionVersion.shipment_id == shipment_id)
        .order_by(DeliveryInstructionVersion.version.desc())
        .limit(1)
    )


def histories(shipment_ids: Iterable[int]) -> dict[int, list[DeliveryInstructionVersion]]:
    """Every version of each shipment, newest first, in one statement."""
    ids = list(shipment_ids)
    result: dict[int, list[DeliveryInstructionVersion]] = {shipment_id: [] for shipment_id in ids}
    if not ids:
        return result
    for version in db.session.scalars(
        select(DeliveryInstructionVersion)
        .where(DeliveryInstructionVersion.shipment_id.in_(ids))
        .order_by(DeliveryInstructionVersion.shipment_id, DeliveryInstructionVersion.version.desc())
    ):
        result[version.shipment_id].append(version)
    return result


def current_versions(shipment_ids: Iterable[int]) -> dict[int, DeliveryInstructionVersion]:
    """The current version of each shipment that has instructions, in one statement."""
    ids = list(shipment_ids)
    if not ids:
        return {}
    version = DeliveryInstructionVersion
    latest = (
        select(version.shipment_id, func.max(version.version).label("number"))
        .where(version.shipment_id.in_(ids))
        .group_by(version.shipment_id)
        .subquery()
    )
    rows = db.session.scalars(
        select(version).join(
            latest, and_(version.shipment_id == latest.c.shipment_id, version.version == latest.c.number)
        )
    )
    return {row.shipment_id: row for row in rows}


# --- checking input -----------------------------------------------------------------------------------------


def _clean_text(value: str | None, multi_line: bool) -> str | None:
    if value is None:
        return None
    if multi_line:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = value.strip()
    return value or None


def normalise(data: InstructionsData) -> InstructionsData:
    """Trim the texts; keep the neighbour only for "with neighbour" and the description only for "other"."""
    cleaned: dict[str, Any] = {
        name: _clean_text(getattr(data, name), name in MULTI_LINE_FIELDS)
        for name in INSTRUCTION_FIELDS
        if name != "preferred_date"
    }
    safe_place = cleaned["safe_place"]
    if safe_place != "neighbour":
        cleaned["neighbour_name"] = cleaned["neighbour_house_number"] = None
    if safe_place != "other":
        cleaned["safe_place_other"] = None
    return replace(data, **cleaned)


def _has_control_characters(text: str, multi_line: bool) -> bool:
    allowed = {"\n"} if multi_line else set()
    return any(unicodedata.category(char) == "Cc" and char not in allowed for char in text)


def problems(
    data: InstructionsData, allowed_dates: Sequence[date], current: DeliveryInstructionVersion | None
) -> dict[str, LazyString]:
    """Field name -> what is wrong with it, for normalised `data`; empty when everything is fine."""
    errors: dict[str, LazyString] = {}
    for name, limit in LENGTH_LIMITS.items():
        value = getattr(data, name)
        if value is None:
            continue
        if len(value) > limit:
            errors[name] = _l("Use at most %(max)d characters.", max=limit)
        elif _has_control_characters(value, name in MULTI_LINE_FIELDS):
            errors[name] = _l("Use letters, digits, spaces and punctuation only.")
    if data.safe_place is not None and data.safe_place not in SAFE_PLACES:
        errors["safe_place"] = _l("Choose one of the places in the list.")
    if data.safe_place == "neighbour" and data.neighbour_name is None and "neighbour_name" not in errors:
        errors["neighbour_name"] = _l("Enter the name of the neighbour who may take the parcel.")
    if data.safe_place == "other" and data.safe_place_other is None and "safe_place_other" not in errors:
        errors["safe_place_other"] = _l("Describe where the parcel may be left.")
    unchanged_date = current is not None and data.preferred_date == current.preferred_date
    if data.preferred_date is not None and data.preferred_date not in allowed_dates and not unchanged_date:
        errors["preferred_date"] = _l("Choose one of the days in the list.")
    return errors


# --- changing -----------------------------------------------------------------------------------------------


def _role(viewer: Viewer, order: Order) -> str:
    if viewer.is_staff:
        return "staff"
    if viewer.user_id is not None and viewer.user_id == order.customer_id:
        return "customer"
    return "guest"


def _actor(viewer: Viewer, order: Order) -> Actor:
    if viewer.user_id is not None:
        return Actor.user(viewer.user_id, viewer.label)
    return Actor("guest", f"guest of order {order.number}")


def change_delivery_instructions(
    number: str,
    tracking_number: str,
    data: InstructionsData,
    *,
    based_on: int,
    viewer: Viewer,
    rules: InstructionRules,
    now: datetime,
) -> Change:
    """Save `data` as the shipment's next version, queue the `delivery_instructions.updated` webhook and send
    `delivery_instructions_changed`. `based_on` is the version the person saw (0: none).

    Saving what is already current changes nothing. Raises NotFound (not the viewer's parcel),
    InstructionsClosed (after the cut-off), Invalid (field errors) and InstructionsChanged (a newer version
    was saved meanwhile).
    """
    shipment = shipment_for_viewer(number, tracking_number, viewer, lock=True)
    order = shipment.order
    current = current_version(shipment.id)
    window = edit_window(shipment, current, rules, now)
    if not window.is_open:
        raise InstructionsClosed(str(window.reason))
    data = normalise(data)
    errors = problems(data, window.allowed_dates, current)
    if errors:
        raise Invalid(
            str(_l("Some delivery instructions need correcting.")),
            fields={name: str(message) for name, message in errors.items()},
        )
    current_number = current.version if current is not None else 0
    if based_on != current_number:
        raise InstructionsChanged(str(_l("These instructions were changed meanwhile.")), current)
    before = InstructionsData.from_version(current)
    changed_fields = [name for name in INSTRUCTION_FIELDS if getattr(before, name) != getattr(data, name)]
    if not changed_fields:
        return Change(current, False)

    version = DeliveryInstructionVersion(
        shipment_id=shipment.id,
        version=current_number + 1,
        changed_fields=changed_fields,
        created_at=now,
        changed_by_role=_role(viewer, order),
        changed_by_user_id=viewer.user_id,
        changed_by_label=viewer.label[:200],
        **{name: getattr(data, name) for name in INSTRUCTION_FIELDS},
    )
    db.session.add(version)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent save took this number first (SQLite has no row lock to make us wait for it). The
        # transaction is spoilt: the caller rolls back, as after any domain error.
        raise InstructionsChanged(str(_l("These instructions were changed meanwhile.")), None) from None

    # The access code stays out of the audit trail: it is shown to staff in the order, not in logs.
    audit.record(
        _actor(viewer, order),
        "delivery_instructions.changed",
        "shipment",
        tracking_number,
        {"version": current_number},
        {"version": version.version, "changed": changed_fields},
    )
    queue_webhook(WEBHOOK_TYPE, webhook_data(order, shipment, version))
    signals.delivery_instructions_changed.send(shipment, version=version)
    return Change(version, True)


# --- what people are shown ---------------------------------------------------------------------------------


def summary_rows(
    version: DeliveryInstructionVersion | None, *, access_code: Literal["show", "hide", "omit"]
) -> list[tuple[str, str]]:
    """(label, value) pairs of a version in the current locale, for pages and messages.

    `access_code`: "show" it (the owner, staff), "hide" it behind "Saved (hidden)" (a guest), or "omit" the
    row (e-mails and text messages, which must never carry it).
    """
    if version is None:
        return []
    rows: list[tuple[str, str]] = []
    if version.safe_place == "neighbour":
        neighbour = version.neighbour_name or ""
        if version.neighbour_house_number:
            neighbour = gettext(
                "%(name)s, house number %(number)s", name=neighbour, number=version.neighbour_house_number
            )
        rows.append((gettext("Safe place"), gettext("With a neighbour: %(neighbour)s", neighbour=neighbour)))
    elif version.safe_place == "other":
        rows.append((gettext("Safe place"), version.safe_place_other or ""))
    elif version.safe_place:
        rows.append(
            (gettext("Safe place"), str(SAFE_PLACE_LABELS.get(version.safe_place, version.safe_place)))
        )
    if version.access_code and access_code != "omit":
        shown = gettext("Saved (hidden)") if access_code == "hide" else version.access_code
        rows.append((gettext("Access code"), shown))
    if version.note:
        rows.append((gettext("Note for the driver"), version.note))
    if version.preferred_date:
        rows.append((gettext("Preferred delivery day"), format_date(version.preferred_date, "full")))
    return rows


# --- what the shop is told ----------------------------------------------------------------------------------


def instructions_payload(version: DeliveryInstructionVersion) -> dict[str, Any]:
    """One version as JSON, access code included: for the API and the webhook, never for e-mails."""
    neighbour = None
    if version.neighbour_name is not None:
        neighbour = {"name": version.neighbour_name, "house_number": version.neighbour_house_number}
    return {
        "version": version.version,
        "updated_at": version.created_at.isoformat(),
        "changed_by": version.changed_by_role,
        "safe_place": version.safe_place,
        "safe_place_details": version.safe_place_other,
        "neighbour": neighbour,
        "access_code": version.access_code,
        "note": version.note,
        "preferred_date": version.preferred_date.isoformat() if version.preferred_date else None,
    }


def webhook_data(order: Order, shipment: Shipment, version: DeliveryInstructionVersion) -> dict[str, Any]:
    return {
        "order_number": order.number,
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "changed_fields": list(version.changed_fields),
        "instructions": instructions_payload(version),
    }
