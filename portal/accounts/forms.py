"""Forms of the account pages. Field names are part of the public contract: email, password, remember, name,
confirm."""

from __future__ import annotations

from typing import Any

from babel.dates import get_timezone_location
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TelField,
)
from wtforms.validators import Email, EqualTo, InputRequired, Length, ValidationError

from portal.accounts.passwords import MAX_PASSWORD_LENGTH, password_problem
from portal.accounts.service import (
    MAX_EMAIL_LENGTH,
    MAX_NAME_LENGTH,
    has_control_characters,
    is_known_timezone,
    normalise_phone,
)
from portal.config import SUPPORTED_LOCALES
from portal.errors import Invalid
from portal.i18n import LANGUAGE_NAMES

# Offered in the time zone list; any other valid IANA zone is accepted too (and kept if already chosen).
COMMON_TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Luxembourg",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Copenhagen",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Helsinki",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Budapest",
    "Europe/Athens",
    "Europe/Istanbul",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Toronto",
    "America/Mexico_City",
    "America/Sao_Paulo",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _plain_text(form: FlaskForm, field: StringField) -> None:
    if field.data and has_control_characters(field.data):
        raise ValidationError(_l("Use letters, digits, spaces and punctuation only."))


def _name_field() -> StringField:
    return StringField(
        _l("Your name"),
        filters=[_strip],
        validators=[
            InputRequired(message=_l("Enter your name.")),
            Length(max=MAX_NAME_LENGTH, message=_l("Use at most %(max)d characters.")),
            _plain_text,
        ],
    )


def _email_field(label: Any = None, **kwargs: Any) -> EmailField:
    return EmailField(
        label or _l("Email address"),
        filters=[_strip],
        validators=[
            InputRequired(message=_l("Enter your email address.")),
            Length(max=MAX_EMAIL_LENGTH, message=_l("This is too long for an email address.")),
            Email(message=_l("Enter an email address like name@example.com.")),
        ],
        **kwargs,
    )


def _new_password_field(label: Any, **kwargs: Any) -> PasswordField:
    # Length and strength are checked by `password_problem` in each form's validate_password.
    return PasswordField(label, validators=[InputRequired(message=_l("Choose a password."))], **kwargs)


def _confirm_field(**kwargs: Any) -> PasswordField:
    return PasswordField(
        _l("Repeat the password"),
        validators=[
            InputRequired(message=_l("Repeat the password.")),
            EqualTo("password", message=_l("The two passwords are not the same.")),
        ],
        **kwargs,
    )


def _current_password_field(**kwargs: Any) -> PasswordField:
    return PasswordField(
        _l("Current password"),
        validators=[
            InputRequired(message=_l("Enter your current password.")),
            Length(max=MAX_PASSWORD_LENGTH, message=_l("This is not your current password.")),
        ],
        **kwargs,
    )


def _check_new_password(password: str | None, email: str | None, name: str | None) -> None:
    problem = password_problem(password or "", email=email or "", name=name or "")
    if problem:
        raise ValidationError(problem)


def _password_field() -> PasswordField:
    return PasswordField(
        _l("Password"),
        validators=[
            InputRequired(message=_l("Enter your password.")),
            Length(max=MAX_PASSWORD_LENGTH, message=_l("This is too long for a password.")),
        ],
    )


class LoginForm(FlaskForm):
    email = _email_field()
    password = _password_field()
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class RegisterForm(FlaskForm):
    name = _name_field()
    email = _email_field()
    password = _new_password_field(_l("Password"))
    confirm = _confirm_field()

    def validate_password(self, field: PasswordField) -> None:
        _check_new_password(field.data, self.email.data, self.name.data)


class VerifyEmailForm(FlaskForm):
    """The password of the account, which confirms its address together with the link from the e-mail."""

    password = _password_field()


class ForgotPasswordForm(FlaskForm):
    email = _email_field()


class ResetPasswordForm(FlaskForm):
    password = _new_password_field(_l("New password"))
    confirm = _confirm_field()

    def __init__(self, *args: Any, user_email: str = "", user_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_email, self.user_name = user_email, user_name

    def validate_password(self, field: PasswordField) -> None:
        _check_new_password(field.data, self.user_email, self.user_name)


def timezone_choices(current: str | None = None) -> list[SelectChoice]:
    """The common zones (plus the current one), labelled with the city in the viewer's language."""
    zones = list(COMMON_TIMEZONES)
    if current and current not in zones and is_known_timezone(current):
        zones.append(current)
    locale = get_locale() or "en"
    choices = []
    for zone in zones:
        if zone == "UTC":
            choices.append(SelectChoice(zone, "UTC"))
            continue
        city = get_timezone_location(zone, locale=locale, return_city=True)
        choices.append(SelectChoice(zone, f"{city} ({zone.replace('_', ' ')})"))
    return sorted(choices, key=lambda choice: (choice.value != "UTC", choice.value))


class ProfileForm(FlaskForm):
    name = _name_field()
    phone = TelField(
        _l("Mobile number (optional)"),
        filters=[_strip],
        validators=[Length(max=32, message=_l("This is too long for a phone number."))],
    )
    locale = SelectField(
        _l("Language"),
        choices=[SelectChoice(code, LANGUAGE_NAMES.get(code, code)) for code in SUPPORTED_LOCALES],
    )
    # Any valid IANA zone is accepted, not only the ones listed; validate_timezone checks it.
    timezone = SelectField(_l("Time zone"), validate_choice=False)
    updates_email = BooleanField(_l("By email"))
    updates_sms = BooleanField(_l("By text message (SMS)"))
    followups_email = BooleanField(_l("By email"))
    followups_sms = BooleanField(_l("By text message (SMS)"))
    marketing_consent = BooleanField(_l("Send me news and offers from the shop"))

    def __init__(self, *args: Any, current_timezone: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timezone.choices = timezone_choices(current_timezone)

    def validate_phone(self, field: TelField) -> None:
        try:
            phone = normalise_phone(field.data or "")
        except Invalid as error:
            raise ValidationError(error.fields["phone"]) from None
        if phone is None and (self.updates_sms.data or self.followups_sms.data):
            raise ValidationError(_l("Add a mobile number to get text messages."))

    def validate_timezone(self, field: SelectField) -> None:
        if not isinstance(field.data, str) or len(field.data) > 64 or not is_known_timezone(field.data):
            raise ValidationError(_l("Choose a time zone from the list."))

    def channel_preferences(self) -> dict[str, dict[str, bool]]:
        return {
            "updates": {"email": bool(self.updates_email.data), "sms": bool(self.updates_sms.data)},
            "followups": {"email": bool(self.followups_email.data), "sms": bool(self.followups_sms.data)},
        }


class EmailChangeForm(FlaskForm):
    email = _email_field(_l("New email address"), id="new-email")
    current_password = _current_password_field(id="email-current-password")


class PasswordChangeForm(FlaskForm):
    current_password = _current_password_field(id="password-current-password")
    password = _new_password_field(_l("New password"), id="new-password")
    confirm = _confirm_field(id="new-password-confirm")

    def __init__(self, *args: Any, user_email: str = "", user_name: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_email, self.user_name = user_email, user_name

    def validate_password(self, field: PasswordField) -> None:
        _check_new_password(field.data, self.user_email, self.user_name)
