"""Locale and time zone selection, and the formatting filters templates use."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_login import current_user

from portal.config import SUPPORTED_LOCALES

LANGUAGE_NAMES = {"en": "English", "de": "Deutsch"}


def select_locale() -> str | None:
    """The signed-in user's choice, then this browser's choice, then Accept-Language."""
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in SUPPORTED_LOCALES:
        return str(user_locale)
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    return request.accept_languages.best_match(SUPPORTED_LOCALES) or current_app.config["DEFAULT_LOCALE"]


def select_timezone() -> str | None:
    user_timezone = getattr(current_user, "timezone", None) if current_user else None
    return user_timezone or session.get("timezone") or current_app.config["DEFAULT_TIMEZONE"]


def init_app(app: Flask) -> None:
    from flask_babel import get_locale

    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or app.config["DEFAULT_LOCALE"])

    @app.context_processor
    def languages() -> dict[str, object]:
        return {"language_names": LANGUAGE_NAMES}
