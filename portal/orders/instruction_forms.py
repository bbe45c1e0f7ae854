"""The delivery instructions form. It only reads the fields; the rules (lengths, options, dates) live in
`portal.orders.instructions`, whose field errors the view puts back on this form."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from flask_babel import format_date
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import ValidationError

from portal.orders.instructions import SAFE_PLACE_LABELS, InstructionsData
from portal.orders.instructions_models import (
    MAX_ACCESS_CODE_LENGTH,
    MAX_HOUSE_NUMBER_LENGTH,
    MAX_NEIGHBOUR_NAME_LENGTH,
    MAX_NOTE_LENGTH,
    MAX_SAFE_PLACE_OTHER_LENGTH,
    DeliveryInstructionVersion,
)


def form_prefix(tracking_number: str) -> str:
    """Field names and ids per parcel, so that two open forms on one order page never share an id."""
    return "parcel-" + re.sub(r"[^A-Za-z0-9_]", "_", tracking_number)


def initial_data(current: DeliveryInstructionVersion | None, hide_access_code: bool) -> dict[str, Any]:
    """The form's fields filled from the current version (a hidden access code stays empty)."""
    if current is None:
        return {"version": "0"}
    return {
        "version": str(current.version),
        "safe_place": current.safe_place or "",
        "safe_place_other": current.safe_place_other or "",
        "neighbour_name": current.neighbour_name or "",
        "neighbour_house_number": current.neighbour_house_number or "",
        "access_code": "" if hide_access_code else current.access_code or "",
        "note": current.note or "",
        "preferred_date": current.preferred_date.isoformat() if current.preferred_date else "",
    }


def _optional(value: str | None) -> str | None:
    return value if value else None


class DeliveryInstructionsForm(FlaskForm):
    version = HiddenField()
    safe_place = RadioField(
        _l("If nobody answers, the carrier may leave the parcel"),
        choices=[
            SelectChoice("", _l("Nowhere: bring it back another time")),
            *(SelectChoice(value, label) for value, label in SAFE_PLACE_LABELS.items()),
        ],
        default="",
        validate_choice=False,  # the service names an unknown place as a field error
    )
    safe_place_other = StringField(_l("Where exactly?"), render_kw={"maxlength": MAX_SAFE_PLACE_OTHER_LENGTH})
    neighbour_name = StringField(
        _l("Neighbour's name"), render_kw={"maxlength": MAX_NEIGHBOUR_NAME_LENGTH, "autocomplete": "off"}
    )
    neighbour_house_number = StringField(
        _l("Their house number"), render_kw={"maxlength": MAX_HOUSE_NUMBER_LENGTH, "autocomplete": "off"}
    )
    access_code = StringField(
        _l("Access or gate code"),
        render_kw={"maxlength": MAX_ACCESS_CODE_LENGTH, "autocomplete": "off", "spellcheck": "false"},
    )
    remove_access_code = BooleanField(_l("Remove the saved code"))
    note = TextAreaField(_l("Note for the driver"), render_kw={"maxlength": MAX_NOTE_LENGTH, "rows": 4})
    preferred_date = SelectField(_l("Preferred delivery day"), validate_choice=False)

    def __init__(
        self,
        *args: Any,
        allowed_dates: Sequence[date] = (),
        current: DeliveryInstructionVersion | None = None,
        hide_access_code: bool = False,
        **kwargs: Any,
    ) -> None:
        """`hide_access_code`: the viewer may replace or remove a saved code but not read it (a guest)."""
        self.current = current
        self.hide_access_code = hide_access_code and current is not None and current.access_code is not None
        super().__init__(*args, **kwargs)
        dates = list(allowed_dates)
        if current is not None and current.preferred_date is not None and current.preferred_date not in dates:
            dates = sorted([*dates, current.preferred_date])
        self.preferred_date.choices = [
            SelectChoice("", str(_l("No preference"))),
            *(SelectChoice(day.isoformat(), format_date(day, "full")) for day in dates),
        ]

    def validate_preferred_date(self, field: SelectField) -> None:
        if field.data:
            try:
                date.fromisoformat(field.data)
            except (TypeError, ValueError):
                raise ValidationError(_l("Choose one of the days in the list.")) from None

    def based_on(self) -> int:
        """The version the person saw; something unreadable counts as stale (never as "the latest")."""
        try:
            return int(self.version.data or "0")
        except ValueError:
            return -1

    def instructions(self) -> InstructionsData:
        """What was asked for, with a hidden saved code kept unless it was replaced or removed."""
        access_code = _optional(self.access_code.data)
        if self.hide_access_code and access_code is None and not self.remove_access_code.data:
            access_code = self.current.access_code if self.current is not None else None
        return InstructionsData(
            safe_place=_optional(self.safe_place.data),
            safe_place_other=_optional(self.safe_place_other.data),
            neighbour_name=_optional(self.neighbour_name.data),
            neighbour_house_number=_optional(self.neighbour_house_number.data),
            access_code=access_code,
            note=_optional(self.note.data),
            preferred_date=date.fromisoformat(self.preferred_date.data) if self.preferred_date.data else None,
        )

    def show_problems(self, problems: Mapping[str, str]) -> None:
        """Put the service's field errors next to the fields they concern."""
        for name, message in problems.items():
            field = self._fields.get(name)
            if field is not None:
                field.errors = [*field.errors, message]
