"""What the customer reads: every step's e-mail and text message (snapshots in English, German, French and
Spanish), their language and time zone, the guest's order link, and the fall-back to English when a language's
template breaks.

Set UPDATE_SNAPSHOTS=1 to rewrite the snapshots after a deliberate change of wording; review the diff.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask_babel import force_locale, get_translations

from portal import clock
from portal.extensions import db
from portal.messaging import rendering
from portal.messaging.models import Message
from portal.messaging.sequence import STEPS
from portal.messaging.service import recipient_of, schedule_message
from tests.messaging.conftest import make_shopper, order_event, place_order, rows, ship, track

SNAPSHOTS = Path(__file__).parent / "snapshots"
PLACED = datetime(2026, 10, 12, 8, 30, tzinfo=UTC)


def render(message: Message, locale: str | None = None) -> rendering.EmailContent:
    recipient = recipient_of(message.order)
    context = rendering.template_context(message, recipient)
    content, _ = rendering.render_email(message.step, locale or recipient.locale, recipient.timezone, context)
    return content


def normalised(text: str) -> str:
    text = re.sub(r"/surveys/[A-Za-z0-9_-]+", "/surveys/<token>", text)
    return re.sub(r"/unsubscribe/\S+", "/unsubscribe/<token>", text)


def every_step_rendered(api: Any, locale: str | None = None) -> dict[str, rendering.EmailContent]:
    """Walk one order through the whole sequence, rendering each e-mail when its event happens."""
    rendered: dict[str, rendering.EmailContent] = {}

    def render_new() -> None:
        for message in rows(channel="email"):
            if message.step not in rendered:
                rendered[message.step] = render(message, locale)

    with clock.freeze(PLACED):
        make_shopper(timezone="Europe/Berlin")
        order = place_order(api)
        render_new()
        for event_type in ("paid", "fulfilled"):
            order_event(api, "1001", event_type)
            render_new()
        tracking_number = ship(api)
        render_new()
        for hours, status in ((20, "in_transit"), (30, "failed_attempt"), (50, "out_for_delivery")):
            clock.advance(timedelta(hours=hours) - (clock.now() - PLACED))
            track(api, tracking_number, status)
            render_new()
        clock.advance(timedelta(hours=4))
        track(api, tracking_number, "delivered")
        render_new()
        shipment = order.shipments[0]
        schedule_message(
            order, "delivery_instructions_changed", shipment=shipment, context={"summary": "Porch"}
        )
        schedule_message(
            order, "return_confirmation", context={"rma": "R-1001-1", "label_url": "http://portal.test/l.pdf"}
        )
        schedule_message(
            order,
            "points_expiring",
            key="pts-2027-11-12",
            context={"points": 189, "expires_at": "2027-11-12T12:00:00+00:00"},
        )
        db.session.commit()
        render_new()
    return rendered


def compare_with_snapshot(name: str, actual: str) -> None:
    snapshot = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(actual)
    assert snapshot.exists(), f"no snapshot {name}: run with UPDATE_SNAPSHOTS=1"
    assert actual == snapshot.read_text(), f"{name} differs from {snapshot}"


@pytest.mark.parametrize("locale", ["en", "de", "fr", "es"])
def test_the_text_of_every_step(api: Any, locale: str) -> None:
    rendered = every_step_rendered(api, locale)
    assert set(rendered) == set(STEPS)
    for step, content in sorted(rendered.items()):
        compare_with_snapshot(
            f"{step}.{locale}.txt", f"Subject: {content.subject}\n\n{normalised(content.text)}"
        )


SMS_STEPS = {"shipped", "out_for_delivery", "delivery_exception", "delivered"}
# One part of a text message: 160 GSM-7 characters (the catalog check keeps every SMS text within GSM-7).
SMS_PART = 160


def every_sms_rendered(api: Any, locale: str) -> dict[str, str]:
    """Walk one order of a shopper who chose text messages through the journey; render each SMS once."""
    rendered: dict[str, str] = {}

    def render_new() -> None:
        for message in rows(channel="sms"):
            if message.step not in rendered:
                recipient = recipient_of(message.order)
                context = rendering.template_context(message, recipient)
                text, language = rendering.render_sms(message.step, locale, recipient.timezone, context)
                assert language == locale
                rendered[message.step] = text

    with clock.freeze(PLACED):
        make_shopper(phone="+4915112345678", sms=True, timezone="Europe/Berlin")
        place_order(api)
        tracking_number = ship(api)
        render_new()
        for hours, status in ((30, "failed_attempt"), (50, "out_for_delivery"), (54, "delivered")):
            clock.advance(timedelta(hours=hours) - (clock.now() - PLACED))
            track(api, tracking_number, status)
            render_new()
    return rendered


@pytest.mark.parametrize("locale", ["en", "de", "fr", "es"])
def test_the_text_of_every_sms(api: Any, locale: str) -> None:
    rendered = every_sms_rendered(api, locale)
    assert set(rendered) == SMS_STEPS
    too_long = {step: len(text) for step, text in rendered.items() if len(text) > SMS_PART}
    assert not too_long, f"texts longer than one {SMS_PART}-character part: {too_long}"
    compare_with_snapshot(
        f"sms.{locale}.txt", "".join(f"{step}:\n{text}\n\n" for step, text in sorted(rendered.items()))
    )


def test_the_html_is_simple_and_safe_in_dark_mode(api: Any) -> None:
    for step, content in every_step_rendered(api).items():
        html = content.html
        assert "<img" not in html and "src=" not in html, step  # no remote (or any) images
        assert "prefers-color-scheme: dark" in html and 'name="color-scheme" content="light dark"' in html
        assert 'name="viewport"' in html
        assert "http://portal.test/orders/1001" in html, step
        assert "<script" not in html


def test_german_customers_get_their_language_and_dates(api: Any) -> None:
    with clock.freeze(PLACED):
        make_shopper(timezone="Europe/Berlin", locale="de")
        place_order(api)
        tracking_number = ship(api)
        [shipped] = rows(step="shipped", channel="email")
        shipped_text = render(shipped).text
        clock.advance(timedelta(hours=30))
        track(api, tracking_number, "delivered")
    assert re.search(r"Mi\., 14\.\s*–\s*Fr\., 16\. Okt\.", shipped_text), shipped_text  # the window
    [delivered] = rows(step="delivered", channel="email")
    content = render(delivered)
    assert '<html lang="de">' in content.html
    # Delivered on Tuesday 13 October 2026 at 14:30 UTC, 16:30 in Berlin, written the German way.
    assert "Di., 13. Okt., 16:30" in content.text


def test_dates_are_in_the_customers_time_zone(api: Any) -> None:
    with clock.freeze(PLACED):
        make_shopper(timezone="America/New_York")
        place_order(api)
        tracking_number = ship(api)
        track(api, tracking_number, "delivered", PLACED)
    [delivered] = rows(step="delivered", channel="email")
    assert "Mon, Oct 12, 4:30\u202fAM" in render(delivered).text


def test_a_broken_translation_falls_back_to_english(
    api: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with clock.freeze(PLACED):
        make_shopper(locale="de")
        place_order(api)
    [confirmation] = rows(step="order_confirmation")
    with force_locale("de"):
        german = get_translations()
    # A translator's typo in a placeholder: rendering the German e-mail raises KeyError.
    monkeypatch.setitem(german._catalog, "Hello %(name)s,", "Hallo %(nmae)s,")
    # The app's logs bypass pytest's handler, and the test session's migrations disabled existing loggers.
    monkeypatch.setattr(logging.getLogger("portal"), "propagate", True)
    monkeypatch.setattr(logging.getLogger("portal.messaging.rendering"), "disabled", False)
    caplog.set_level(logging.ERROR, logger="portal.messaging.rendering")
    recipient = recipient_of(confirmation.order)
    context = rendering.template_context(confirmation, recipient)
    content, locale = rendering.render_email("order_confirmation", "de", recipient.timezone, context)
    assert locale == "en"
    assert content.text.startswith("Hello Ada Lovelace,")
    assert "rendering e-mail order_confirmation in 'de' failed" in caplog.text


def test_a_guest_gets_a_link_that_opens_the_order(api: Any, client: Any) -> None:
    place_order(api, email="guest@example.com")
    [confirmation] = rows(step="order_confirmation")
    text = render(confirmation).text
    db.session.commit()  # as the send job does once the e-mail is out
    link = re.search(r"http://portal\.test(/track/link/\S+)", text)
    assert link is not None
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Open your order" in page.get_data(as_text=True)
    from tests.conftest import csrf_token

    opened = client.post(link.group(1), data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/orders/1001")
    assert client.get("/orders/1001").status_code == 200
