"""Account pages: register, verify, sign in and out, password reset, profile and preferences."""

from __future__ import annotations

import time
from typing import Any, cast

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME
from flask_wtf import FlaskForm
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from portal.accounts import service, sessions
from portal.accounts.forms import (
    EmailChangeForm,
    ForgotPasswordForm,
    LoginForm,
    PasswordChangeForm,
    ProfileForm,
    RegisterForm,
    ResetPasswordForm,
    VerifyEmailForm,
)
from portal.accounts.models import User
from portal.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, RECOMMENDED_PASSWORD_LENGTH
from portal.accounts.tokens import InvalidLink, read_verification_token, reset_link_lifetime_seconds
from portal.errors import DomainError, Invalid
from portal.extensions import db, limiter, login_manager
from portal.main import safe_next_path
from portal.rate_limits import configured_limit
from portal.security import answer_no_sooner_than

bp = Blueprint("accounts", __name__)
bp.record_once(lambda state: sessions.init_app(state.app))

login_manager.login_view = "accounts.login"
login_manager.login_message = _l("Please sign in to see this page.")
login_manager.login_message_category = "info"
# Flask-Login flashes `localize_callback(login_message)`: str() renders the lazy text in the reader's locale.
login_manager.localize_callback = str

# Rate limits (Flask-Limiter strings); each can be overridden by the app config setting of the same name.

# What survives signing in and out: only the language chosen in this browser. Everything else (CSRF token,
# guest order grants, anything planted before signing in) starts afresh.
_KEPT_SESSION_KEYS = ("locale",)


def _email_key() -> str:
    return "email:" + service.normalise_email(request.form.get("email", ""))[: service.MAX_EMAIL_LENGTH]


def _verification_email_key() -> str:
    """The address a verification link is for: wrong passwords on its page count per address, as at /login."""
    try:
        _user_id, email, _fingerprint = read_verification_token((request.view_args or {}).get("token", ""))
    except InvalidLink:
        return "email:"  # never counted: a bad link gets its page before any password is checked
    return "email:" + email


def _user_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def _attempt_failed(response: Response) -> bool:
    """Counts only attempts whose password was wrong (the view sets the flag), not typos in the form."""
    return bool(g.get("attempt_failed"))


def _me() -> User:
    return cast(User, current_user._get_current_object())


@bp.app_template_global()
def signed_in_user() -> User | None:
    """The signed-in user for the layout, or None; also None when the database is down (the error page must
    still render)."""
    try:
        return _me() if current_user.is_authenticated else None
    except SQLAlchemyError:
        db.session.rollback()
        return None


def _landing_path(user: User, next_path: str | None = None) -> str:
    # Literal paths: the order list and the back-office are other areas' blueprints.
    return safe_next_path(next_path) or ("/backoffice/" if user.is_staff else "/orders")


def _renew_session() -> None:
    kept = {key: session[key] for key in _KEPT_SESSION_KEYS if key in session}
    session.clear()
    session.update(kept)


def _start_session(user: User, *, remember: bool) -> None:
    """Sign `user` in on a fresh session, so nothing from before (a planted session) carries over."""
    _renew_session()
    login_user(user, remember=remember)
    sessions.mark_signed_in()


def _has_remember_cookie() -> bool:
    return bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME)))


def _show_errors(form: FlaskForm, error: DomainError) -> None:
    """Put a service's field errors next to the fields of `form` (or above the form)."""
    placed = False
    for name, message in error.fields.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*field.errors, message]
            placed = True
    if not placed:
        form.form_errors.append(error.message)


def _refuse_attempt(form: FlaskForm, error: DomainError, *, checked_field: str = "current_password") -> None:
    """Undo a refused change and show why next to the fields of `form`. Only an error in `checked_field` (the
    password that proves who is asking) counts towards the rate limit (`_attempt_failed`), not other typos."""
    db.session.rollback()
    g.attempt_failed = checked_field in error.fields
    _show_errors(form, error)


def _render_form(template: str, form: FlaskForm, **context: Any) -> tuple[str, int]:
    status = 422 if form.is_submitted() and form.errors else 200
    return render_template(template, form=form, **context), status


def _password_hint() -> str:
    return _(
        "Use %(min)d to %(max)d characters; %(recommended)d or more is best. "
        "A few unrelated words work well.",
        min=MIN_PASSWORD_LENGTH,
        max=MAX_PASSWORD_LENGTH,
        recommended=RECOMMENDED_PASSWORD_LENGTH,
    )


def _invalid_link() -> tuple[str, int]:
    db.session.rollback()
    return render_template("accounts/link_invalid.html"), 410


# --- registration and verification --------------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(configured_limit("REGISTER_LIMIT_PER_IP"), methods=["POST"])
def register() -> Response | tuple[str, int]:
    """Register a shopper account; the same answer whether or not the address has one, and nobody is signed in
    (that happens with the link from the e-mail and the password, or by signing in)."""
    if current_user.is_authenticated:
        return redirect(_landing_path(_me()), 303)
    form = RegisterForm()
    if form.validate_on_submit():
        started = time.monotonic()
        try:
            service.register_shopper(
                form.name.data, form.email.data, form.password.data, locale=str(get_locale())
            )
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            # A new address writes an account, a taken one does not: the same answer must take the same time.
            answer_no_sooner_than(started, current_app.config["REGISTER_MIN_RESPONSE_MS"] / 1000)
            return redirect(url_for("accounts.check_inbox"), 303)
    return _render_form("accounts/register.html", form, password_hint=_password_hint())


@bp.get("/register/check-your-inbox")
def check_inbox() -> str:
    """After registering: open the link in the e-mail."""
    return render_template("accounts/check_inbox.html")


@bp.route("/verify/<token>", methods=["GET", "POST"])
@limiter.limit(configured_limit("LOGIN_LIMIT_PER_IP"), methods=["POST"], deduct_when=_attempt_failed)
@limiter.limit(
    configured_limit("LOGIN_LIMIT_PER_EMAIL"),
    key_func=_verification_email_key,
    methods=["POST"],
    deduct_when=_attempt_failed,
)
def verify_email(token: str) -> Response | tuple[str, int]:
    """Confirm the e-mail address with the link from the e-mail and the account's password, then sign in.

    Opening the link changes nothing (mail scanners open links too): it shows a form asking for the password.
    Sending the right one verifies the address, adds the guest orders, ends every other session of the
    account and signs this browser in.
    """
    try:
        user = service.user_for_verification_token(token)
    except InvalidLink:
        return _invalid_link()
    form = VerifyEmailForm()
    if form.validate_on_submit():
        try:
            verification = service.verify_email(token, form.password.data)
        except InvalidLink:
            return _invalid_link()
        except Invalid as error:
            _refuse_attempt(form, error, checked_field="password")
        else:
            db.session.commit()
            _start_session(verification.user, remember=False)
            message = _("Your email address is confirmed.")
            if verification.claimed_orders:
                added = ngettext(
                    "%(num)d earlier order was added to your account.",
                    "%(num)d earlier orders were added to your account.",
                    verification.claimed_orders,
                )
                message = f"{message} {added}"
            flash(message, "success")
            return redirect(_landing_path(verification.user), 303)
    return _render_form("accounts/verify_email.html", form, email=user.email)


@bp.post("/account/verification")
@limiter.limit(configured_limit("VERIFICATION_RESEND_LIMIT"), key_func=_user_key)
@login_required
def resend_verification() -> Response:
    """Send the verification e-mail again."""
    user = _me()
    if service.request_email_verification(user):
        db.session.commit()
        flash(_("We have sent a new link to %(email)s.", email=user.email), "success")
    else:
        flash(_("Your email address is already confirmed."), "info")
    return redirect(url_for("accounts.account"), 303)


# --- signing in and out -------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(configured_limit("LOGIN_LIMIT_PER_IP"), methods=["POST"], deduct_when=_attempt_failed)
@limiter.limit(
    configured_limit("LOGIN_LIMIT_PER_EMAIL"),
    key_func=_email_key,
    methods=["POST"],
    deduct_when=_attempt_failed,
)
def login() -> Response | tuple[str, int]:
    """Sign in with email address and password."""
    form = LoginForm()
    if not form.is_submitted():
        form.next.data = safe_next_path(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(_landing_path(_me(), form.next.data), 303)
    if form.validate_on_submit():
        user = service.authenticate(form.email.data, form.password.data)
        if user is not None:
            service.record_sign_in(user)
            db.session.commit()
            _start_session(user, remember=form.remember.data)
            return redirect(_landing_path(user, form.next.data), 303)
        # One message for an unknown address and a wrong password: the page must not tell which.
        g.attempt_failed = True
        form.form_errors.append(_("Email or password is wrong."))
    return _render_form("accounts/login.html", form)


@bp.post("/logout")
def logout() -> Response:
    """Sign out here and on every other device (sessions and remember-me cookies)."""
    if current_user.is_authenticated:
        service.end_all_sessions(_me())
        db.session.commit()
    _renew_session()
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("main.index"), 303)


# --- password reset -----------------------------------------------------------------------------------------


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(configured_limit("PASSWORD_FORGOT_LIMIT_PER_IP"), methods=["POST"])
@limiter.limit(configured_limit("PASSWORD_FORGOT_LIMIT_PER_EMAIL"), key_func=_email_key, methods=["POST"])
def forgot_password() -> Response | tuple[str, int]:
    """Ask for a link to set a new password; the same answer whether or not the address has an account."""
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        db.session.commit()
        return redirect(url_for("accounts.reset_link_sent"), 303)
    return _render_form("accounts/forgot_password.html", form)


@bp.get("/password/forgot/sent")
def reset_link_sent() -> str:
    """After asking for a reset link."""
    return render_template("accounts/reset_link_sent.html", minutes=reset_link_lifetime_seconds() // 60)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Response | tuple[str, int]:
    """Set a new password with the link from the e-mail; signs out every other session and signs in here."""
    try:
        user = service.user_for_reset_token(token)
    except InvalidLink:
        return _invalid_link()
    form = ResetPasswordForm(user_email=user.email, user_name=user.name)
    if form.validate_on_submit():
        try:
            user = service.reset_password(token, form.password.data)
        except InvalidLink:
            return _invalid_link()
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            _start_session(user, remember=False)
            flash(_("Your new password is set. You are signed out on every other device."), "success")
            return redirect(_landing_path(user), 303)
    return _render_form("accounts/reset_password.html", form, password_hint=_password_hint())


# --- the account page ---------------------------------------------------------------------------------------


def _render_account(
    profile: ProfileForm | None = None,
    email_form: EmailChangeForm | None = None,
    password_form: PasswordChangeForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    user = _me()
    if profile is None:
        preferences = service.channel_preferences(user)
        timezone = user.timezone or current_app.config["DEFAULT_TIMEZONE"]
        # formdata=None: on a POST of one of the other forms, this one must show the stored values.
        profile = ProfileForm(
            formdata=None,
            current_timezone=timezone,
            data={
                "name": user.name,
                "phone": user.phone or "",
                "locale": user.locale or str(get_locale()),
                "timezone": timezone,
                "updates_email": preferences["updates"]["email"],
                "updates_sms": preferences["updates"]["sms"],
                "followups_email": preferences["followups"]["email"],
                "followups_sms": preferences["followups"]["sms"],
                "marketing_consent": user.marketing_consent,
            },
        )
    context = {
        "user": user,
        "profile": profile,
        "email_form": email_form or EmailChangeForm(formdata=None),
        "password_form": password_form or PasswordChangeForm(formdata=None),
        "password_hint": _password_hint(),
    }
    return render_template("accounts/account.html", **context), status


@bp.get("/account")
@login_required
def account() -> tuple[str, int]:
    """Profile, language, time zone, message channels, marketing consent, e-mail address and password."""
    return _render_account()


@bp.post("/account")
@login_required
def update_profile() -> Response | tuple[str, int]:
    """Save the profile and preferences."""
    user = _me()
    form = ProfileForm(current_timezone=user.timezone)
    if form.validate_on_submit():
        changes = service.ProfileChanges(
            name=form.name.data,
            phone=form.phone.data or "",
            locale=form.locale.data,
            timezone=form.timezone.data,
            channel_preferences=form.channel_preferences(),
            marketing_consent=bool(form.marketing_consent.data),
        )
        try:
            service.update_profile(user, changes)
        except DomainError as error:
            db.session.rollback()
            _show_errors(form, error)
        else:
            db.session.commit()
            # The confirmation is read on the next page, which is in the newly chosen language.
            with force_locale(changes.locale):
                flash(_("Your details are saved."), "success")
            return redirect(url_for("accounts.account"), 303)
    return _render_account(profile=form, status=422)


@bp.post("/account/email")
@limiter.limit(configured_limit("ACCOUNT_CHANGE_LIMIT"), key_func=_user_key, deduct_when=_attempt_failed)
@login_required
def change_email() -> Response | tuple[str, int]:
    """Change the e-mail address (needs the current password); the new address must be verified."""
    user = _me()
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            service.change_email(user, form.current_password.data, form.email.data)
        except DomainError as error:
            _refuse_attempt(form, error)
        else:
            db.session.commit()
            flash(
                _("Please confirm your new address: we have sent a link to %(email)s.", email=user.email),
                "success",
            )
            return redirect(url_for("accounts.account"), 303)
    return _render_account(email_form=form, status=422)


@bp.post("/account/password")
@limiter.limit(configured_limit("ACCOUNT_CHANGE_LIMIT"), key_func=_user_key, deduct_when=_attempt_failed)
@login_required
def change_password() -> Response | tuple[str, int]:
    """Change the password (needs the current one); every other session ends, this one stays signed in."""
    user = _me()
    form = PasswordChangeForm(user_email=user.email, user_name=user.name)
    if form.validate_on_submit():
        try:
            service.change_password(user, form.current_password.data, form.password.data)
        except DomainError as error:
            _refuse_attempt(form, error)
        else:
            db.session.commit()
            _start_session(user, remember=_has_remember_cookie())
            flash(_("Your new password is set. You are signed out on every other device."), "success")
            return redirect(url_for("accounts.account"), 303)
    return _render_account(password_form=form, status=422)
