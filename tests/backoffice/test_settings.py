"""Shop settings: admins override the defaults, validated and audited; every area reads the override."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from portal import shop_settings
from portal.audit import Actor, AuditEntry
from portal.extensions import db
from portal.messaging.models import Message
from portal.messaging.sequence import get_step
from portal.messaging.tasks import send_message
from portal.shop_settings import ShopSettingOverride
from tests.backoffice.conftest import page, post, text_of
from tests.orders.test_views import make_order

SETTINGS = "/backoffice/settings"


def change(client: FlaskClient, name: str, value: str) -> Any:
    return post(client, f"{SETTINGS}/{name}", {"value": value}, form_page=SETTINGS)


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_change_applies_everywhere_and_is_audited(admin_client: FlaskClient, app: Flask) -> None:
    assert shop_settings.get("SHOP_NAME") == app.config["SHOP_NAME"]
    response = change(admin_client, "SHOP_NAME", "  Kettle & Co  ")
    assert response.status_code == 303
    assert shop_settings.get("SHOP_NAME") == "Kettle & Co"
    (entry,) = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "setting.changed"))
    assert entry.object_id == "SHOP_NAME" and entry.actor_label == "admin@example.com"
    assert entry.before == {"value": app.config["SHOP_NAME"]} and entry.after == {"value": "Kettle & Co"}
    # pages show the brand name (templates read config.SHOP_NAME through the settings)
    assert page(admin_client.get("/")).select_one(".brand").text == "Kettle & Co"
    assert "Changed by admin@example.com" in text_of(admin_client.get(SETTINGS))


def test_typed_values_come_back_typed(admin_client: FlaskClient) -> None:
    assert change(admin_client, "RETURN_AUTO_APPROVE_MAX_ORDER_VALUE", "99.50").status_code == 303
    assert shop_settings.get("RETURN_AUTO_APPROVE_MAX_ORDER_VALUE") == Decimal("99.50")
    assert change(admin_client, "RETURN_WINDOW_DAYS", "14").status_code == 303
    assert shop_settings.get("RETURN_WINDOW_DAYS") == 14
    tiers = (
        '[{"name": "Basic", "min_spend": "0", "multiplier": "1"},'
        ' {"name": "VIP", "min_spend": "500", "multiplier": 2}]'
    )
    assert change(admin_client, "LOYALTY_TIERS", tiers).status_code == 303
    assert shop_settings.get("LOYALTY_TIERS")[1] == {"name": "VIP", "min_spend": "500", "multiplier": "2"}


def test_bad_values_are_refused_with_a_message_and_nothing_is_saved(admin_client: FlaskClient) -> None:
    cases = {
        "SHOP_NAME": "   ",
        "BRAND_ACCENT_COLOR": "blue",
        "RETURN_WINDOW_DAYS": "thirty",
        "STORE_CREDIT_BONUS_PERCENT": "250",
        "RETURN_AUTO_APPROVE_MAX_ORDER_VALUE": "NaN",
        "RETURN_REASONS": '[{"code": "Bad Code", "label": "x"}]',
        "LOYALTY_TIERS": '[{"name": "Silver", "min_spend": "100", "multiplier": "1"}]',
        "LOYALTY_REDEMPTIONS": '[{"points": -5, "value": "1"}]',
        "MESSAGE_FOLLOWUP_DAYS": "5",
        "MESSAGE_DISABLED_STEPS": '["no_such_step"]',
        "SMS_SEND_FROM_HOUR": "21",  # after the default "until" hour (20)
        "SURVEY_QUESTIONS": '["nps", "nps"]',
        "RETURNS_ADDRESS": "x" * 501,
    }
    for name, value in cases.items():
        response = change(admin_client, name, value)
        assert response.status_code == 422, name
        html = page(response)
        error = html.select_one(f"#error-{name}")
        assert error is not None and error.text.strip(), name
        assert f"error-{name}" in html.select_one(f"#value-{name}")["aria-describedby"]
    assert count(ShopSettingOverride) == 0
    assert count(AuditEntry) == 0


def test_unknown_setting_is_404(admin_client: FlaskClient) -> None:
    assert change(admin_client, "SECRET_KEY", "x").status_code == 404


def test_reset_goes_back_to_the_default(admin_client: FlaskClient, app: Flask) -> None:
    assert change(admin_client, "MESSAGE_DAILY_CAP", "3").status_code == 303
    assert shop_settings.get("MESSAGE_DAILY_CAP") == 3
    response = post(admin_client, f"{SETTINGS}/MESSAGE_DAILY_CAP/reset", form_page=SETTINGS)
    assert response.status_code == 303
    assert shop_settings.get("MESSAGE_DAILY_CAP") == app.config["MESSAGE_DAILY_CAP"]
    assert db.session.scalar(select(func.count()).where(AuditEntry.action == "setting.reset")) == 1


def test_another_process_sees_a_change_on_its_next_request(app: Flask) -> None:
    """Overrides are read once per application context (a request, a job), so a change elsewhere shows on the
    next one."""
    assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 7
    # as if another node had written it, without this context knowing
    db.session.add(ShopSettingOverride(key="MESSAGE_SURVEY_DAYS", value=9, updated_by_label="elsewhere"))
    db.session.commit()
    assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 7  # this context (request, job) read them already
    with app.app_context():  # the next request or job
        assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 9


def test_a_page_reads_the_settings_in_one_statement(admin_client: FlaskClient) -> None:
    from sqlalchemy import event

    assert change(admin_client, "SHOP_NAME", "Kettle & Co").status_code == 303
    assert change(admin_client, "BRAND_ACCENT_COLOR", "#123456").status_code == 303
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert admin_client.get("/").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert sum("shop_setting_overrides" in statement for statement in seen) == 1


def test_messaging_reads_the_overrides(app: Flask, api: Any) -> None:
    actor = Actor.system("test")
    shop_settings.set_value("MESSAGE_FOLLOWUP_DAYS", "3", actor)
    db.session.commit()
    assert get_step("post_delivery_followup").delay().days == 3
    make_order(api, "1001")
    shop_settings.set_value("MESSAGE_DISABLED_STEPS", '["order_confirmation"]', actor)
    db.session.commit()
    message_id = db.session.scalar(select(Message.id).where(Message.step == "order_confirmation"))
    assert send_message(message_id) == "skipped: step_disabled"


def test_the_accent_colour_styles_every_page(admin_client: FlaskClient) -> None:
    assert change(admin_client, "BRAND_ACCENT_COLOR", "#AA3300").status_code == 303
    link = page(admin_client.get("/")).select_one('head link[href^="/brand.css"]')
    assert link is not None and link["href"] == "/brand.css?v=aa3300"
    response = admin_client.get(link["href"])
    assert response.mimetype == "text/css" and "--accent: #aa3300" in response.get_data(as_text=True)


def test_a_process_reuses_the_settings_it_read_for_a_while(app: Flask) -> None:
    """With a cache time, the next request of the same process reads no statement for the settings; a change
    made in this process still shows at once, one made elsewhere after the cache time."""
    from sqlalchemy import event

    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    app.config["SHOP_SETTINGS_CACHE_SECONDS"] = 60
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 7
        read = [sql for sql in statements if sql.startswith("SELECT") and "shop_setting_overrides" in sql]
        assert len(read) == 1
        db.session.add(ShopSettingOverride(key="MESSAGE_SURVEY_DAYS", value=9, updated_by_label="elsewhere"))
        db.session.commit()
        with app.app_context():  # the next request within the cache time: no statement, the value it read
            assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 7
        reads = [sql for sql in statements if sql.startswith("SELECT") and "shop_setting_overrides" in sql]
        assert len(reads) == 1
        with app.app_context():
            shop_settings.set_value("MESSAGE_SURVEY_DAYS", "8", Actor.system("test"))
            db.session.commit()
        with app.app_context():  # a change made here shows at once
            assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 8
        app.extensions["shop_settings_cache"] = (-1, 0.0, {})  # as if the cache time had passed
        db.session.execute(
            update(ShopSettingOverride)
            .where(ShopSettingOverride.key == "MESSAGE_SURVEY_DAYS")
            .values(value=10)
        )
        db.session.commit()
        with app.app_context():
            assert shop_settings.get("MESSAGE_SURVEY_DAYS") == 10
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
        app.config["SHOP_SETTINGS_CACHE_SECONDS"] = 0
        app.extensions.pop("shop_settings_cache", None)
