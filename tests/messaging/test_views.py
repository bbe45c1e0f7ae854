"""Unsubscribe pages, the inbound SMS webhook, and the messages on the order page and in the API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from bs4 import BeautifulSoup
from jsonschema import Draft202012Validator
from sqlalchemy import func, select

from portal import clock
from portal.accounts.models import User
from portal.api.schemas import ORDER_OUTPUT
from portal.extensions import db
from portal.messaging.models import MessageSuppression
from portal.messaging.optouts import make_unsubscribe_token
from portal.messaging.service import recipient_of
from tests.messaging.conftest import make_shopper, place_order, row, send, send_due, ship, track
from tests.orders.test_views import sign_in

SECRET = "inbound-secret-for-tests"
NOON_IN_BERLIN = datetime(2026, 10, 12, 10, 0, tzinfo=UTC)


def unsubscribe_path(number: str = "1001") -> str:
    return f"/unsubscribe/{make_unsubscribe_token(recipient_of(row(number, 'order_confirmation').order))}"


def fresh_user(user_id: int) -> User:
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user is not None
    return user


def test_the_unsubscribe_link_asks_first_and_works_without_a_session(app: Any, api: Any, client: Any) -> None:
    user = make_shopper()
    place_order(api)
    path = unsubscribe_path()
    page = client.get(path)
    assert page.status_code == 200
    html = BeautifulSoup(page.data, "html.parser")
    assert html.h1 is not None and "Unsubscribe from follow-up e-mails?" in html.h1.text
    assert "ad…@example.com" in html.text
    assert fresh_user(user.id).channel_preferences["followups"]["email"] is True  # a GET changes nothing
    form = html.find("form", attrs={"action": path})
    assert form is not None and form.get("method") == "post"

    mail_client = app.test_client()  # no cookies, no CSRF token
    done = mail_client.post(path)
    assert done.status_code == 200 and "You are unsubscribed" in done.get_data(as_text=True)
    assert mail_client.post(path).status_code == 200  # idempotent
    assert fresh_user(user.id).channel_preferences["followups"]["email"] is False


def test_the_account_page_shows_the_unsubscribe(api: Any, client: Any) -> None:
    user = make_shopper()
    place_order(api)
    client.post(unsubscribe_path())
    sign_in(client, fresh_user(user.id))
    html = BeautifulSoup(client.get("/account").data, "html.parser")
    assert html.find("input", attrs={"name": "followups_email"}).get("checked") is None
    assert html.find("input", attrs={"name": "updates_email"}).get("checked") is not None


@pytest.mark.parametrize("token", ["nonsense", "eyJlIjoieEB5LnoifQ.forged", "x" * 400])
def test_a_bad_unsubscribe_link_is_a_404(client: Any, token: str) -> None:
    assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert client.post(f"/unsubscribe/{token}").status_code == 404


@pytest.fixture
def inbound(app: Any, client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(app.config, "SMS_INBOUND_SECRET", SECRET)

    def post(text: str, sender: str = "+49 151 12345678", secret: str = SECRET) -> Any:
        return client.post(
            "/sms/inbound",
            json={"from": sender, "text": text},
            headers={"Authorization": f"Bearer {secret}"},
        )

    return post


def test_stop_stops_every_sms_and_is_confirmed_once(api: Any, inbound: Any) -> None:
    with clock.freeze(NOON_IN_BERLIN):
        user = make_shopper(phone="+4915112345678", sms=True, timezone="Europe/Berlin")
        place_order(api)
        tracking_number = ship(api)
        first = inbound("Stop")
        assert first.status_code == 200
        assert first.get_json()["action"] == "stop"
        assert "no more texts" in first.get_json()["reply"]
        assert inbound("STOP").get_json() == {"action": "stop", "reply": None}  # confirmed once
        assert fresh_user(user.id).channel_preferences["updates"]["sms"] is False
        assert send(row("1001", "shipped", "sms")) == "skipped: preferences"
        # The number stays blocked where an account says yes again (say, on the account page).
        fresh_user(user.id).channel_preferences = {"updates": {"email": True, "sms": True}}
        db.session.commit()
        track(api, tracking_number, "out_for_delivery")
        assert send(row("1001", "out_for_delivery", "sms")) == "skipped: sms_stopped"

    again = inbound("start")
    assert again.get_json()["action"] == "start" and "again" in again.get_json()["reply"]
    assert db.session.scalar(select(func.count()).select_from(MessageSuppression)) == 0
    assert inbound("START").get_json() == {"action": "start", "reply": None}


def test_help_and_other_texts(inbound: Any) -> None:
    help_reply = inbound("help").get_json()
    assert help_reply["action"] == "help" and "STOP" in help_reply["reply"]
    assert inbound("Where is my parcel?").get_json() == {"action": "ignored", "reply": None}


def test_the_inbound_webhook_needs_the_secret(app: Any, client: Any, inbound: Any) -> None:
    assert inbound("STOP", secret="wrong").status_code == 401
    assert inbound("STOP", sender="not a number").status_code == 422
    assert (
        client.post(
            "/sms/inbound", json={"text": "STOP"}, headers={"Authorization": f"Bearer {SECRET}"}
        ).status_code
        == 422
    )
    app.config["SMS_INBOUND_SECRET"] = None
    assert inbound("STOP").status_code == 404


def test_the_order_page_lists_the_messages_sent(api: Any, client: Any, frozen: datetime) -> None:
    user = make_shopper()
    place_order(api)
    ship(api)
    send(row("1001", "order_confirmation"))
    sign_in(client, fresh_user(user.id))
    html = BeautifulSoup(client.get("/orders/1001").data, "html.parser")
    section = html.find("section", attrs={"aria-labelledby": "messages-heading"})
    assert section is not None
    items = [" ".join(li.text.split()) for li in section.find_all("li")]
    assert len(items) == 1  # the shipping e-mail has not gone out yet
    assert items[0].startswith("Order confirmation · E-mail ·")


def test_the_api_lists_the_messages_with_status_and_due_time(api: Any, frozen: datetime) -> None:
    place_order(api)
    tracking_number = ship(api)
    track(api, tracking_number, "delivered")
    send_due()
    body = api.get("/orders/1001").get_json()
    Draft202012Validator(ORDER_OUTPUT).validate(body)
    messages = {(m["step"], m["channel"]): m for m in body["messages"]}
    assert messages[("order_confirmation", "email")]["status"] == "sent"
    assert messages[("order_confirmation", "email")]["sent_at"] == frozen.isoformat()
    follow_up = messages[("post_delivery_followup", "email")]
    assert follow_up["status"] == "scheduled" and follow_up["sent_at"] is None
    assert follow_up["due_at"] == (frozen + timedelta(days=2)).isoformat()
    assert messages[("shipped", "email")]["tracking_number"] == tracking_number


def test_the_dispatch_command_checks_its_instant(runner: Any) -> None:
    result = runner.invoke(args=["portal", "dispatch", "--until", "tomorrow"])
    assert result.exit_code != 0 and "ISO-8601" in result.output
    result = runner.invoke(args=["portal", "dispatch", "--until", "2026-10-12T09:00:00"])
    assert result.exit_code != 0 and "offset" in result.output
    result = runner.invoke(args=["portal", "dispatch", "--until", "2026-10-12T09:00:00Z"])
    assert result.exit_code == 0 and result.output == "0 message(s) queued\n"


class _Provider(BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Provider.received.append({**body, "idempotency_key": self.headers["Idempotency-Key"]})
        self.send_response(_Provider.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": f"sms-{len(_Provider.received)}"}).encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sms_provider(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Provider]]:
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Provider.received, _Provider.status = [], 200
    monkeypatch.setitem(app.config, "SMS_BACKEND", "webhook")
    monkeypatch.setitem(app.config, "SMS_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/sms")
    yield _Provider
    server.shutdown()
    server.server_close()


def test_the_webhook_sms_backend_posts_to_the_provider(api: Any, sms_provider: Any, frozen: datetime) -> None:
    make_shopper(phone="+4915112345678", sms=True, timezone="UTC")
    with clock.freeze(frozen.replace(hour=12)):
        place_order(api)
        ship(api)
        sms_provider.status = 503
        assert send(row("1001", "shipped", "sms")) == "retry"
        sms_provider.status = 200
        clock.advance(timedelta(minutes=1))
        assert send(row("1001", "shipped", "sms")) == "sent"
    first, second = sms_provider.received
    assert first["to"] == "+4915112345678" and "is on its way" in first["text"]
    assert second["idempotency_key"] == first["idempotency_key"] == first["reference"]
    sms = row("1001", "shipped", "sms")
    assert (sms.provider_id, sms.attempts) == ("sms-2", 2)
