"""Settings a shop's admins may change in the back-office (return window, reason codes, loyalty rates, …).

Every area reads them through `get(name)`, never `current_app.config` directly, so an admin's change in the
back-office applies everywhere. The defaults are the configuration (`portal.config`, i.e. the environment);
an admin's override is a row of `shop_setting_overrides`.

Overrides are read in one statement, at most once per application context (i.e. per request or job), and only
when something reads a setting: a change made on another node shows on its next request, and a page pays one
small query (the table holds a row per changed setting).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, Response, current_app, g, has_app_context
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from portal import audit, clock
from portal.audit import Actor
from portal.db import UTCDateTime
from portal.errors import Invalid
from portal.extensions import db

log = logging.getLogger(__name__)


class ShopSettingOverride(db.Model):  # type: ignore[name-defined]
    """An admin's value for one shop setting, stored as JSON; no row means the configured default."""

    __tablename__ = "shop_setting_overrides"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_by_label: Mapped[str] = mapped_column(String(200), default="")


# --- what may be set, and how each value is checked ---------------------------------------------------------


class SettingError(ValueError):
    """A value that cannot be used for a setting; the message says why, for the person who typed it."""


@dataclass(frozen=True)
class SettingSpec:
    """One editable setting: how the form shows it, how typed text becomes a value, and JSON both ways."""

    name: str
    label: LazyString
    group: LazyString
    # "text", "textarea", "number", "color", "json"
    widget: str
    parse: Callable[[str], Any]
    help: LazyString | str = ""
    # JSON stored -> the value `get` returns (Decimal, tuple, …); and back.
    from_json: Callable[[Any], Any] = field(default=lambda value: value)
    to_json: Callable[[Any], Any] = field(default=lambda value: value)

    def as_text(self, value: Any) -> str:
        """The value as the form shows it."""
        if self.widget == "json":
            return json.dumps(self.to_json(value), indent=2, ensure_ascii=False)
        return str(self.to_json(value))


def _text(max_length: int, *, multi_line: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.replace("\r\n", "\n").strip()
        if not value:
            raise SettingError(str(_l("Enter a value.")))
        if len(value) > max_length:
            raise SettingError(str(_l("Use at most %(count)d characters.", count=max_length)))
        if not multi_line and "\n" in value:
            raise SettingError(str(_l("Use a single line.")))
        if any(ord(c) < 32 and c != "\n" for c in value):
            raise SettingError(str(_l("Remove the control characters.")))
        return value

    return parse


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise SettingError(str(_l("Enter a whole number."))) from None
        if not low <= value <= high:
            raise SettingError(str(_l("Enter a number from %(low)d to %(high)d.", low=low, high=high)))
        return value

    return parse


def _decimal(text: Any) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        raise SettingError(str(_l("Enter a number such as 250 or 12.50."))) from None
    if not value.is_finite() or value < 0 or value > Decimal("1000000000"):
        raise SettingError(str(_l("Enter a number from 0 to 1,000,000,000.")))
    return value


_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _color(raw: str) -> str:
    value = raw.strip()
    if not _COLOR.fullmatch(value):
        raise SettingError(str(_l("Enter a colour as # and six hexadecimal digits, e.g. #1f5f8b.")))
    return value.lower()


def _json_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise SettingError(str(_l("This is not valid JSON."))) from None


def _reasons(raw: str) -> list[dict[str, Any]]:
    value = _json_text(raw)
    if not isinstance(value, list) or not value:
        raise SettingError(str(_l("Give a list with at least one reason.")))
    codes: set[str] = set()
    cleaned = []
    for entry in value:
        if not isinstance(entry, dict):
            raise SettingError(str(_l("Each reason must be an object with code and label.")))
        code, label = entry.get("code"), entry.get("label")
        if not isinstance(code, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", code):
            raise SettingError(str(_l("Each code must be lower-case letters, digits and underscores.")))
        if code in codes:
            raise SettingError(str(_l("The code %(code)s appears twice.", code=code)))
        if not isinstance(label, str) or not label.strip() or len(label) > 100:
            raise SettingError(str(_l("Each reason needs a label of at most 100 characters.")))
        flags = {name: entry.get(name, False) for name in ("comment_required", "needs_review")}
        if not all(isinstance(flag, bool) for flag in flags.values()):
            raise SettingError(str(_l("comment_required and needs_review must be true or false.")))
        codes.add(code)
        cleaned.append({"code": code, "label": label.strip(), **flags})
    return cleaned


def _tiers(raw: str) -> list[dict[str, str]]:
    value = _json_text(raw)
    if not isinstance(value, list) or not value:
        raise SettingError(str(_l("Give a list with at least one tier.")))
    cleaned = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise SettingError(str(_l("Each tier needs a name, min_spend and multiplier.")))
        min_spend, multiplier = _decimal(entry.get("min_spend")), _decimal(entry.get("multiplier"))
        if multiplier <= 0:
            raise SettingError(str(_l("A multiplier must be more than 0.")))
        cleaned.append(
            {"name": entry["name"].strip(), "min_spend": str(min_spend), "multiplier": str(multiplier)}
        )
    spends = [Decimal(tier["min_spend"]) for tier in cleaned]
    if spends[0] != 0 or spends != sorted(set(spends)):
        raise SettingError(str(_l("Tiers must start at min_spend 0 and rise, each spend once.")))
    return cleaned


def _redemptions(raw: str) -> list[dict[str, Any]]:
    value = _json_text(raw)
    if not isinstance(value, list):
        raise SettingError(str(_l("Give a list of redemptions.")))
    cleaned = []
    for entry in value:
        points = entry.get("points") if isinstance(entry, dict) else None
        if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
            raise SettingError(
                str(_l("Each redemption needs a positive whole number of points and a value."))
            )
        amount = _decimal(entry.get("value"))
        if amount <= 0:
            raise SettingError(str(_l("A redemption's value must be more than 0.")))
        cleaned.append({"points": points, "value": str(amount)})
    return cleaned


SURVEY_QUESTION_CODES = ("nps", "csat")


def _survey_questions(raw: str) -> list[str]:
    value = _json_text(raw)
    if (
        not isinstance(value, list)
        or not value
        or any(item not in SURVEY_QUESTION_CODES for item in value)
        or len(set(value)) != len(value)
    ):
        raise SettingError(str(_l('Give a list of "nps" and/or "csat", each once.')))
    return list(value)


def _step_list(raw: str) -> list[str]:
    from portal.messaging.sequence import STEPS

    value = _json_text(raw)
    if not isinstance(value, list) or any(not isinstance(item, str) for item in value):
        raise SettingError(str(_l("Give a list of step names.")))
    unknown = [item for item in value if item not in STEPS]
    if unknown:
        raise SettingError(str(_l("Unknown steps: %(steps)s", steps=", ".join(unknown))))
    return sorted(set(value))


_BRAND = _l("Brand")
_RETURNS = _l("Returns")
_LOYALTY = _l("Loyalty")
_MESSAGES = _l("Messages")
_SURVEYS = _l("Surveys")

SPECS: dict[str, SettingSpec] = {
    spec.name: spec
    for spec in (
        SettingSpec("SHOP_NAME", _l("Shop name"), _BRAND, "text", _text(100)),
        SettingSpec(
            "BRAND_ACCENT_COLOR",
            _l("Accent colour"),
            _BRAND,
            "color",
            _color,
            _l("Used for links and buttons on pages, e-mails and labels."),
        ),
        SettingSpec(
            "RETURNS_ADDRESS",
            _l("Returns address"),
            _RETURNS,
            "textarea",
            _text(500, multi_line=True),
            _l("Printed on every return label; one line per address line."),
        ),
        SettingSpec(
            "RETURN_WINDOW_DAYS",
            _l("Return window (days after delivery)"),
            _RETURNS,
            "number",
            _whole_number(1, 365),
        ),
        SettingSpec(
            "RETURN_REASONS",
            _l("Return reasons"),
            _RETURNS,
            "json",
            _reasons,
            _l("A list of {code, label, comment_required, needs_review}."),
        ),
        SettingSpec(
            "RETURN_AUTO_APPROVE_MAX_ORDER_VALUE",
            _l("Auto-approve returns of orders worth at most"),
            _RETURNS,
            "text",
            _decimal,
            _l("Within the window and for reasons that need no review."),
            from_json=Decimal,
            to_json=str,
        ),
        SettingSpec(
            "STORE_CREDIT_BONUS_PERCENT",
            _l("Store credit bonus (percent)"),
            _RETURNS,
            "number",
            _whole_number(0, 100),
        ),
        SettingSpec(
            "LOYALTY_POINTS_PER_UNIT", _l("Points per unit spent"), _LOYALTY, "number", _whole_number(0, 1000)
        ),
        SettingSpec(
            "LOYALTY_TIERS",
            _l("Tiers"),
            _LOYALTY,
            "json",
            _tiers,
            _l("A list of {name, min_spend, multiplier}, starting at min_spend 0."),
        ),
        SettingSpec(
            "LOYALTY_SURVEY_BONUS", _l("Survey bonus (points)"), _LOYALTY, "number", _whole_number(0, 100000)
        ),
        SettingSpec(
            "LOYALTY_FIRST_ORDER_BONUS",
            _l("First order bonus (points)"),
            _LOYALTY,
            "number",
            _whole_number(0, 100000),
        ),
        SettingSpec(
            "LOYALTY_BIRTHDAY_BONUS",
            _l("Birthday bonus (points)"),
            _LOYALTY,
            "number",
            _whole_number(0, 100000),
        ),
        SettingSpec(
            "LOYALTY_EXPIRY_MONTHS",
            _l("Points expire after (months)"),
            _LOYALTY,
            "number",
            _whole_number(1, 120),
        ),
        SettingSpec(
            "LOYALTY_REDEMPTIONS",
            _l("Redemptions"),
            _LOYALTY,
            "json",
            _redemptions,
            _l("A list of {points, value}: points exchanged for store credit."),
        ),
        SettingSpec(
            "MESSAGE_DISABLED_STEPS",
            _l("Steps not sent"),
            _MESSAGES,
            "json",
            _step_list,
            _l('Names of sequence steps to skip, e.g. ["in_transit"].'),
        ),
        SettingSpec(
            "MESSAGE_FOLLOWUP_DAYS",
            _l("Follow-up after delivery (days)"),
            _MESSAGES,
            "number",
            _whole_number(2, 3),
        ),
        SettingSpec(
            "MESSAGE_SURVEY_DAYS",
            _l("Survey invitation after delivery (days)"),
            _MESSAGES,
            "number",
            _whole_number(7, 10),
        ),
        SettingSpec(
            "SMS_SEND_FROM_HOUR",
            _l("Text messages from (hour)"),
            _MESSAGES,
            "number",
            _whole_number(0, 23),
            _l("Quiet hours: outside these hours, in the customer's time zone, texts wait."),
        ),
        SettingSpec(
            "SMS_SEND_UNTIL_HOUR", _l("Text messages until (hour)"), _MESSAGES, "number", _whole_number(1, 24)
        ),
        SettingSpec(
            "MESSAGE_DAILY_CAP",
            _l("Follow-ups per customer per day"),
            _MESSAGES,
            "number",
            _whole_number(0, 20),
            _l("0 means no cap."),
        ),
        SettingSpec(
            "SURVEY_QUESTIONS",
            _l("Survey questions"),
            _SURVEYS,
            "json",
            _survey_questions,
            _l('["nps", "csat"], or one of them.'),
        ),
    )
}


def _cross_checks(name: str, value: Any) -> None:
    """Rules between settings: quiet hours must leave some hours to send in."""
    if name in ("SMS_SEND_FROM_HOUR", "SMS_SEND_UNTIL_HOUR"):
        start = value if name == "SMS_SEND_FROM_HOUR" else get("SMS_SEND_FROM_HOUR")
        end = value if name == "SMS_SEND_UNTIL_HOUR" else get("SMS_SEND_UNTIL_HOUR")
        if not int(start) < int(end):
            raise SettingError(
                str(_l("Texts must be allowed from an earlier hour than they are allowed until."))
            )


def parse_value(name: str, raw: str) -> Any:
    """The value `raw` (as typed) stands for. Raises KeyError for an unknown setting, SettingError."""
    spec = SPECS[name]
    value = spec.parse(raw)
    _cross_checks(name, value)
    return value


# --- reading ------------------------------------------------------------------------------------------------


# Bumped by every change made in this process, so a context that read the overrides before the change (a test,
# a long job) reads them again.
_generation = 0


def overrides() -> dict[str, Any]:
    """Every override in force (name -> value as `get` returns it).

    Read once per application context (a request, a job), and shared by the contexts of this process for
    SHOP_SETTINGS_CACHE_SECONDS, so pages do not pay a statement each; a change made in this process shows at
    once, one made on another node within that many seconds.
    """
    loaded: tuple[int, dict[str, Any]] | None = g.get("_shop_settings")
    if loaded is not None and loaded[0] == _generation:
        return loaded[1]
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ttl = float(app.config["SHOP_SETTINGS_CACHE_SECONDS"])
    shared: tuple[int, float, dict[str, Any]] | None = app.extensions.get("shop_settings_cache")
    now = time.monotonic()
    if ttl > 0 and shared is not None and shared[0] == _generation and shared[1] > now:
        values = shared[2]
    else:
        try:
            rows = db.session.execute(select(ShopSettingOverride.key, ShopSettingOverride.value)).all()
        except SQLAlchemyError:
            # The database is away (the 503 page is being drawn, say): the defaults, read again next time.
            log.warning("could not read the shop settings; using the defaults", exc_info=True)
            db.session.rollback()
            return {}
        values = {key: SPECS[key].from_json(value) for key, value in rows if key in SPECS}
        app.extensions["shop_settings_cache"] = (_generation, now + ttl, values)
    g._shop_settings = (_generation, values)
    return values


def get(name: str) -> Any:
    """The current value of a shop setting: the admin's override, else the configured default."""
    if name in SPECS and has_app_context():
        found = overrides()
        if name in found:
            return found[name]
    return current_app.config[name]


def default(name: str) -> Any:
    return current_app.config[name]


# --- changing -----------------------------------------------------------------------------------------------


def _forget_loaded() -> None:
    """Every context of this process reads the overrides again on its next read (after a change)."""
    global _generation
    _generation += 1


def set_value(name: str, raw: str, actor: Actor) -> Any:
    """Parse `raw` and store it as the override of `name`, audited; return the new value. Flushes.

    Raises Invalid (with the reason under `fields["value"]`) when the value cannot be used, and KeyError for
    an unknown setting (a programming error: views 404 first).
    """
    spec = SPECS[name]
    try:
        value = parse_value(name, raw)
    except SettingError as error:
        raise Invalid(
            str(_l("%(setting)s was not changed.", setting=spec.label)), fields={"value": str(error)}
        ) from None
    before = spec.to_json(get(name))
    row = db.session.get(ShopSettingOverride, name)
    if row is None:
        row = ShopSettingOverride(key=name)
        db.session.add(row)
    row.value = spec.to_json(value)
    row.updated_at = clock.now()
    row.updated_by_id = actor.user_id
    row.updated_by_label = actor.label[:200]
    db.session.flush()
    _forget_loaded()
    audit.record(actor, "setting.changed", "setting", name, {"value": before}, {"value": spec.to_json(value)})
    return value


def reset(name: str, actor: Actor) -> bool:
    """Drop the override of `name` (the default applies again), audited; False if there was none."""
    spec = SPECS[name]
    row = db.session.get(ShopSettingOverride, name)
    if row is None:
        return False
    before = row.value
    db.session.delete(row)
    db.session.flush()
    _forget_loaded()
    audit.record(
        actor, "setting.reset", "setting", name, {"value": before}, {"value": spec.to_json(default(name))}
    )
    return True


def override_rows() -> dict[str, ShopSettingOverride]:
    return {row.key: row for row in db.session.scalars(select(ShopSettingOverride))}


# --- templates ----------------------------------------------------------------------------------------------


class _ConfigView(Mapping[str, Any]):
    """`config` as templates see it: shop settings resolve through `get`, the rest is the app config."""

    def __init__(self, config: Mapping[str, Any]):
        self._config = config

    def __getitem__(self, name: str) -> Any:
        return get(name) if name in SPECS else self._config[name]

    def __iter__(self) -> Any:
        return iter(self._config)

    def __len__(self) -> int:
        return len(self._config)


def brand_css() -> Response:
    """The accent colour for light mode (dark mode keeps its own light accent for contrast), cacheable: the
    pages link it with the colour in the URL."""
    color = get("BRAND_ACCENT_COLOR")
    if not _COLOR.fullmatch(str(color)):  # a bad value in the environment: keep the stylesheet's own
        body = ""
    else:
        body = (
            "@media (prefers-color-scheme: light) {\n"
            f"  :root {{ --accent: {color}; --accent-hover: {color}; --focus: {color}; }}\n"
            "}\n"
        )
    response = Response(body, mimetype="text/css")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def init_app(app: Flask) -> None:
    """Templates' `config.SHOP_NAME` (and every other shop setting) shows the admin's value; /brand.css
    carries the accent colour."""

    @app.context_processor
    def _shop_settings_in_templates() -> dict[str, Any]:
        return {"config": _ConfigView(app.config), "shop_setting": get}

    app.add_url_rule("/brand.css", "brand_css", brand_css)
