"""The back-office forms. They read fields; the rules live in the services, whose field errors the views put
back on these forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from portal.accounts.models import STAFF_ROLES
from portal.orders.models import TRACKING_STATUSES


class TrackingEventForm(FlaskForm):
    tracking_number = SelectField(_l("Parcel"), validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=[SelectChoice(status, status) for status in TRACKING_STATUSES])
    occurred_at = DateTimeLocalField(
        _l("When (your time zone)"),
        format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        validators=[DataRequired(message=_l("Enter the date and time of the event."))],
    )
    description = TextAreaField(_l("Description (optional)"), validators=[Optional(), Length(max=500)])


class StopSequenceForm(FlaskForm):
    reason = StringField(_l("Reason (optional)"), validators=[Optional(), Length(max=300)])


class SettingForm(FlaskForm):
    value = TextAreaField(_l("Value"))


class NewStaffForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[DataRequired(), Email(), Length(max=254)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    role = SelectField(_l("Role"), choices=[SelectChoice(role, role) for role in STAFF_ROLES])


class StaffAccessForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(role, role) for role in STAFF_ROLES])
    active = BooleanField(_l("May sign in"))
