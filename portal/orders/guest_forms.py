"""The guest lookup form: order number and email address (also used to ask for a link by email)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, Field, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from portal.orders.guest import EMAIL_MAX_LENGTH, ORDER_NUMBER_MAX_LENGTH, normalise_order_number


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class GuestLookupForm(FlaskForm):
    order_number = StringField(
        _l("Order number"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter your order number.")),
            Length(max=ORDER_NUMBER_MAX_LENGTH, message=_l("An order number has at most 64 characters.")),
        ],
    )
    email = EmailField(
        _l("Email address"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the email address you used for the order.")),
            Length(max=EMAIL_MAX_LENGTH, message=_l("An email address has at most 254 characters.")),
            Email(_l("Enter an email address like name@example.com.")),
        ],
    )

    def validate_order_number(self, field: Field) -> None:
        number = normalise_order_number(field.data or "")
        # "#" alone passes DataRequired but leaves no number.
        if not number:
            raise ValidationError(_l("Enter your order number."))
        # Control characters are never part of an order number (and PostgreSQL refuses NUL in text).
        if not number.isprintable():
            raise ValidationError(_l("Enter the order number as it appears in your order confirmation."))
