"""What a process does once at start so its first requests and jobs do not pay for it."""

from __future__ import annotations

from flask import Flask


def warm_up_templates(app: Flask) -> None:
    """Compile every template, load every language's catalog and Babel's locale data once.

    Web workers call it at start (`wsgi.py`), so the first pages a worker serves after a deploy do not compile
    their templates; RQ workers call it before forking work horses, which would otherwise compile the e-mail
    templates, read the catalogs and unpickle Babel's data again (the locale and currency data alone took
    ~160 ms per e-mail). Needs an application context.
    """
    from flask_babel import force_locale, format_currency, format_datetime, get_translations

    from portal import clock
    from portal.config import SUPPORTED_LOCALES

    for name in app.jinja_env.list_templates(extensions=("html", "txt")):
        app.jinja_env.get_template(name)
    for locale in SUPPORTED_LOCALES:
        with force_locale(locale):
            get_translations()
            format_currency(1, "EUR")
            format_datetime(clock.now())
