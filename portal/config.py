"""Settings: defaults plus typed parsing of the environment (and an optional `.env` file)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

DEVELOPMENT_SECRET_KEY = "dev-only-not-secret-change-me"  # noqa: S105 - refused in production

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says which setting and why."""


def _bool(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _clock_time(value: str, name: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a time of day such as 06:00, not {value!r}") from None


def _date_list(value: str, name: str) -> tuple[date, ...]:
    try:
        return tuple(sorted(date.fromisoformat(part.strip()) for part in value.split(",") if part.strip()))
    except ValueError:
        raise ConfigError(f"{name} must be ISO dates separated by commas, e.g. 2026-12-25") from None


def _seconds_list(value: str, name: str) -> tuple[int, ...]:
    try:
        delays = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError(f"{name} must be whole numbers of seconds separated by commas") from None
    if any(delay <= 0 for delay in delays):
        raise ConfigError(f"{name} must hold positive numbers of seconds")
    return delays


def _json(value: str, name: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        raise ConfigError(f"{name} must be JSON") from None


def _decimal(value: str, name: str) -> Decimal:
    try:
        return Decimal(value.strip())
    except ArithmeticError:
        raise ConfigError(f"{name} must be a number, not {value!r}") from None


# name -> (parser, default). A default of None means "not set".
_SETTINGS: dict[str, tuple[Any, Any]] = {
    "PORTAL_ENV": (str, "production"),
    "SECRET_KEY": (str, None),
    "DATABASE_URL": (str, None),
    "REDIS_URL": (str, None),
    "PORTAL_BASE_URL": (str, "http://127.0.0.1:5000"),
    "MAIL_SERVER": (str, "127.0.0.1"),
    "MAIL_PORT": (_int, 25),
    "MAIL_USERNAME": (str, None),
    "MAIL_PASSWORD": (str, None),
    "MAIL_USE_TLS": (_bool, False),
    "MAIL_FROM": (str, "Doorstep <no-reply@localhost>"),
    "SMS_BACKEND": (str, "log"),
    "SMS_WEBHOOK_URL": (str, None),
    "SHOP_WEBHOOK_URL": (str, None),
    "SHOP_WEBHOOK_SECRET": (str, None),
    "DEFAULT_LOCALE": (str, "en"),
    "DEFAULT_TIMEZONE": (str, "Europe/London"),
    "SHOP_NAME": (str, "Doorstep Demo Shop"),
    "API_MAX_BODY_BYTES": (_int, 1_000_000),
    "API_MAX_BATCH_EVENTS": (_int, 1000),
    # Calls to the JSON API per client (bearer token; callers without one count per address).
    "API_LIMIT_PER_CLIENT": (str, "1200 per minute"),
    "LOG_FORMAT": (str, "json"),
    "PROXY_FIX_HOPS": (_int, 0),
    "ORDER_REFRESH_SECONDS": (_int, 60),
    "GUEST_GRANT_HOURS": (_int, 6),
    # Rate limits (Flask-Limiter syntax). Lookups count failures only; link requests count every request,
    # since counting only matches would let a 429 reveal that an order exists.
    "GUEST_LOOKUP_LIMIT_IP": (str, "20 per 15 minutes"),
    "GUEST_LOOKUP_LIMIT_ORDER": (str, "5 per 15 minutes"),
    "GUEST_LINK_LIMIT_IP": (str, "10 per hour"),
    "GUEST_LINK_LIMIT_ORDER": (str, "3 per hour"),
    "GUEST_LINK_MINUTES": (_int, 30),
    # Failed sign-ins only: per client IP, and per e-mail address whatever the IP.
    "LOGIN_LIMIT_PER_IP": (str, "30 per 15 minutes"),
    "LOGIN_LIMIT_PER_EMAIL": (str, "10 per 15 minutes"),
    "REGISTER_LIMIT_PER_IP": (str, "10 per hour"),
    # A registration answers no sooner than this (ms), whether the address was new or taken: see
    # portal.security.answer_no_sooner_than. Keep it above the slowest normal registration.
    "REGISTER_MIN_RESPONSE_MS": (_int, 300),
    "PASSWORD_FORGOT_LIMIT_PER_IP": (str, "10 per hour"),
    "PASSWORD_FORGOT_LIMIT_PER_EMAIL": (str, "5 per hour"),
    "VERIFICATION_RESEND_LIMIT": (str, "3 per hour"),
    # Wrong current passwords when changing the e-mail address or the password, per user.
    "ACCOUNT_CHANGE_LIMIT": (str, "10 per 15 minutes"),
    # A signed-in session ends after this long without a request, or this long after signing in; "remember
    # me" signs the browser in again for this many days (until the password changes or "sign out everywhere").
    "SESSION_IDLE_MINUTES": (_int, 60),
    "SESSION_MAX_HOURS": (_int, 12),
    "REMEMBER_ME_DAYS": (_int, 30),
    "VERIFY_EMAIL_LINK_HOURS": (_int, 48),
    "PASSWORD_RESET_LINK_MINUTES": (_int, 30),
    # The message sequence (portal.messaging): delays in days after delivery, ages and leases as named.
    "MESSAGE_FOLLOWUP_DAYS": (_int, 2),
    "MESSAGE_SURVEY_DAYS": (_int, 7),
    "MESSAGE_STALE_HOURS": (_int, 36),
    # SMS go out from/until these hours of the customer's local time; outside them they wait for the morning.
    "SMS_SEND_FROM_HOUR": (_int, 9),
    "SMS_SEND_UNTIL_HOUR": (_int, 20),
    # Non-transactional messages (follow-up, survey) per customer in any 24 hours (0: no cap); more wait.
    "MESSAGE_DAILY_CAP": (_int, 1),
    "MESSAGE_MAX_ATTEMPTS": (_int, 6),
    # Waits before the 2nd, 3rd, ... attempt after a failed send; the last one repeats.
    "MESSAGE_RETRY_DELAYS": (_seconds_list, (60, 300, 1800, 7200, 21600)),
    # A row left in `sending` this long (its worker died mid-send) is handed to the next dispatch.
    "MESSAGE_SEND_LEASE_SECONDS": (_int, 600),
    "MESSAGE_DISPATCH_BATCH": (_int, 1000),
    "MESSAGE_DISPATCH_INTERVAL_SECONDS": (_int, 60),
    # How long the (single-use) order link in a guest's message works.
    "MESSAGE_GUEST_LINK_DAYS": (_int, 14),
    # The SMS provider sends this as `Authorization: Bearer …` with inbound texts; unset turns the route off.
    "SMS_INBOUND_SECRET": (str, None),
    "SMS_TIMEOUT_SECONDS": (_int, 10),
    # Delivery instructions: editable until this time (DEFAULT_TIMEZONE) on the expected delivery day; the
    # preferred date is a business day from the earliest promised date to at most this many days later.
    "DELIVERY_INSTRUCTIONS_CUTOFF": (_clock_time, time(6, 0)),
    "DELIVERY_DATE_WINDOW_DAYS": (_int, 5),
    "DELIVERY_HOLIDAYS": (_date_list, ()),
    # Predictive delivery (portal.orders.predictions): deliveries of the last N days make the model; a lane
    # needs this many parcels before it is used (else the next coarser lane); a parcel is stalled after at
    # least this many hours without news; the area of a lane is this many leading postal-code characters
    # (0: none); the worker refreshes the model and the risks every N minutes.
    "PREDICTION_WINDOW_DAYS": (_int, 180),
    "PREDICTION_MIN_PARCELS": (_int, 30),
    "PREDICTION_STALL_FLOOR_HOURS": (_int, 48),
    "PREDICTION_POSTAL_PREFIX": (_int, 2),
    "PREDICTION_REFRESH_MINUTES": (_int, 60),
    # Outgoing webhooks: seconds to wait for the shop's answer, and the delays between attempts.
    "WEBHOOK_TIMEOUT_SECONDS": (_int, 10),
    "WEBHOOK_RETRY_DELAYS": (_seconds_list, (60, 300, 1800, 7200, 43200)),
    # Return labels: RQ's limit for one rendering; a claim older than the lease belongs to a worker that died
    # mid-render, and the worker's periodic sweep (every MESSAGE_DISPATCH_INTERVAL_SECONDS) queues it again;
    # after this many attempts the label is marked failed for staff to look at.
    "LABEL_JOB_TIMEOUT_SECONDS": (_int, 30),
    "LABEL_RENDER_LEASE_SECONDS": (_int, 45),
    "LABEL_MAX_ATTEMPTS": (_int, 5),
    # Shop settings: admins may override these in the back-office; read them with shop_settings.get.
    "BRAND_ACCENT_COLOR": (str, "#1f5f8b"),
    # Where return parcels go (lines separated by newlines), printed on every label.
    "RETURNS_ADDRESS": (str, "Doorstep Demo Shop Returns\nUnit 4, Riverside Park\nLeeds LS10 1AB\nGB"),
    # Days after delivery during which an item may be returned (also when loyalty points become available).
    "RETURN_WINDOW_DAYS": (_int, 30),
    # Reason codes: code, English label, whether a comment is required, whether staff must inspect first.
    "RETURN_REASONS": (
        _json,
        [
            {"code": "too_small", "label": "Too small", "comment_required": False, "needs_review": False},
            {"code": "too_large", "label": "Too large", "comment_required": False, "needs_review": False},
            {
                "code": "not_as_described",
                "label": "Not as described",
                "comment_required": True,
                "needs_review": True,
            },
            {"code": "damaged", "label": "Arrived damaged", "comment_required": True, "needs_review": True},
            {
                "code": "wrong_item",
                "label": "Wrong item sent",
                "comment_required": False,
                "needs_review": True,
            },
            {
                "code": "changed_mind",
                "label": "Changed my mind",
                "comment_required": False,
                "needs_review": False,
            },
            {"code": "other", "label": "Other", "comment_required": True, "needs_review": True},
        ],
    ),
    # Auto-approval: within the window, an order worth at most this much, reasons that need no review.
    "RETURN_AUTO_APPROVE_MAX_ORDER_VALUE": (_decimal, Decimal("250")),
    # Store credit instead of a refund earns this bonus, in percent of the refunded value.
    "STORE_CREDIT_BONUS_PERCENT": (_int, 10),
    # Loyalty: points per whole unit of currency spent, tiers by qualifying spend over the trailing 12 months
    # (with a points multiplier each), bonuses, expiry and redemption (points -> store credit value).
    "LOYALTY_POINTS_PER_UNIT": (_int, 1),
    "LOYALTY_TIERS": (
        _json,
        [
            {"name": "Bronze", "min_spend": "0", "multiplier": "1"},
            {"name": "Silver", "min_spend": "250", "multiplier": "1.25"},
            {"name": "Gold", "min_spend": "750", "multiplier": "1.5"},
        ],
    ),
    "LOYALTY_SURVEY_BONUS": (_int, 50),
    "LOYALTY_FIRST_ORDER_BONUS": (_int, 100),
    "LOYALTY_BIRTHDAY_BONUS": (_int, 200),
    "LOYALTY_EXPIRY_MONTHS": (_int, 12),
    "LOYALTY_REDEMPTIONS": (_json, [{"points": 500, "value": "5"}, {"points": 1000, "value": "12"}]),
    # Surveys: which questions are asked ("nps", "csat"), how long an invitation works, and at most one
    # invitation per customer in this many days.
    "SURVEY_QUESTIONS": (_json, ["nps", "csat"]),
    "SURVEY_INVITATION_DAYS": (_int, 30),
    "SURVEY_THROTTLE_DAYS": (_int, 30),
    # Answers and comments sent to survey links, per client IP.
    "SURVEY_ANSWER_LIMIT": (str, "30 per hour"),
    # Sequence steps the shop does not send at all (names, e.g. ["in_transit"]); admins toggle them.
    "MESSAGE_DISABLED_STEPS": (_json, []),
    # Back-office sessions end after this many minutes without a back-office page view.
    "BACKOFFICE_IDLE_MINUTES": (_int, 30),
    # Each process reuses the shop settings it read for this many seconds (0: read them for every request),
    # so an admin's change reaches the other processes and nodes within that time.
    "SHOP_SETTINGS_CACHE_SECONDS": (_int, 5),
    # The back-office dashboard's figures for a period are reused this long by each process (0: never).
    "DASHBOARD_CACHE_SECONDS": (_int, 60),
    # The order page, order list and loyalty page keep their rendered main part in Redis at most this long
    # (0: never). Any change written through the app drops it at once; the limit covers time passing (a
    # return window closing) and bulk updates (portal/fragments.py).
    "PAGE_CACHE_SECONDS": (_int, 300),
}

# Where each carrier shows a parcel to the public; {tracking_number} is filled in.
CARRIER_TRACKING_URLS = {
    "dhl": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking_number}",
    "dpd": "https://tracking.dpd.de/status/de_DE/parcel/{tracking_number}",
    "ups": "https://www.ups.com/track?tracknum={tracking_number}",
    "hermes": "https://www.myhermes.de/empfangen/sendungsverfolgung/sendungsinformation#{tracking_number}",
    "gls": "https://gls-group.com/track/{tracking_number}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={tracking_number}",
}

SUPPORTED_LOCALES = ("en", "de", "fr", "es")


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    instance_path: str | os.PathLike[str] = "instance",
) -> dict[str, Any]:
    """Build the Flask config from defaults, the environment and explicit overrides (tests pass a dict).

    Raises ConfigError for a value that cannot be parsed or is unsafe for the chosen environment.
    """
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    settings: dict[str, Any] = {}
    for name, (parse, default) in _SETTINGS.items():
        if name in overrides:
            settings[name] = overrides.pop(name)
        elif environ.get(name, "") != "":
            settings[name] = parse(environ[name], name) if parse is not str else environ[name]
        else:
            settings[name] = default

    env = settings["PORTAL_ENV"]
    if env not in ENVIRONMENTS:
        raise ConfigError(f"PORTAL_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"

    if settings["SECRET_KEY"] in (None, DEVELOPMENT_SECRET_KEY):
        if production:
            raise ConfigError(
                "SECRET_KEY is not set (or is the development key): set a long random SECRET_KEY "
                "before running in production, e.g. python -c 'import secrets; print(secrets.token_hex(32))'"
            )
        settings["SECRET_KEY"] = DEVELOPMENT_SECRET_KEY
    if production and len(settings["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters long in production")

    instance = Path(instance_path)
    if production:
        # The embedded defaults are per machine: several production nodes on them would each have their own
        # database and queues. Say so at start-up rather than lose jobs quietly.
        missing = [name for name in ("DATABASE_URL", "REDIS_URL") if not settings[name]]
        if missing:
            raise ConfigError(
                f"{' and '.join(missing)} must be set in production (PostgreSQL and Redis); "
                "for a local trial on the embedded defaults use PORTAL_ENV=development"
            )
    if settings["DATABASE_URL"] is None:
        settings["DATABASE_URL"] = f"sqlite:///{(instance / 'portal.db').resolve()}"
    if settings["SMS_BACKEND"] not in ("log", "webhook"):
        raise ConfigError(f"SMS_BACKEND must be 'log' or 'webhook', not {settings['SMS_BACKEND']!r}")
    if settings["DEFAULT_LOCALE"] not in SUPPORTED_LOCALES:
        raise ConfigError(f"DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}")
    _check_timezone(settings["DEFAULT_TIMEZONE"])
    _check_message_settings(settings)

    flask_config: dict[str, Any] = {
        **settings,
        "TESTING": env == "testing",
        "DEBUG": False,
        "SQLALCHEMY_DATABASE_URI": _normalise_database_url(settings["DATABASE_URL"]),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "MAX_CONTENT_LENGTH": settings["API_MAX_BODY_BYTES"],
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "__Host-session" if production else "session",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_NAME": "__Host-remember" if production else "remember_token",
        "REMEMBER_COOKIE_DURATION": timedelta(days=settings["REMEMBER_ME_DAYS"]),
        "PREFERRED_URL_SCHEME": "https" if production else "http",
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": settings["DEFAULT_LOCALE"],
        "BABEL_DEFAULT_TIMEZONE": settings["DEFAULT_TIMEZONE"],
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent.parent / "translations"),
        "RATELIMIT_HEADERS_ENABLED": True,
        # With Redis unreachable, limits fall back to each process's memory: pages keep working and
        # sign-in and lookups stay limited (per process) instead of failing.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "SEND_HSTS": production,
        "CARRIER_TRACKING_URLS": CARRIER_TRACKING_URLS,
    }
    flask_config.update(overrides)
    return flask_config


def _normalise_database_url(url: str) -> str:
    # Hosting providers hand out postgres:// URLs; SQLAlchemy wants an explicit driver.
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _check_message_settings(settings: dict[str, Any]) -> None:
    if not 2 <= settings["MESSAGE_FOLLOWUP_DAYS"] <= 3:
        raise ConfigError("MESSAGE_FOLLOWUP_DAYS must be 2 or 3")
    if not 7 <= settings["MESSAGE_SURVEY_DAYS"] <= 10:
        raise ConfigError("MESSAGE_SURVEY_DAYS must be between 7 and 10")
    if not 0 <= settings["SMS_SEND_FROM_HOUR"] < settings["SMS_SEND_UNTIL_HOUR"] <= 24:
        raise ConfigError("SMS_SEND_FROM_HOUR must come before SMS_SEND_UNTIL_HOUR (hours 0 to 24)")


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"DEFAULT_TIMEZONE {name!r} is not a known IANA time zone") from None
