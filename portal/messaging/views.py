"""Unsubscribe pages (no sign-in, no cookies needed) and the SMS provider's inbound webhook.

- `GET /unsubscribe/<token>` asks for confirmation (mail scanners follow links; a GET changes nothing);
  `POST /unsubscribe/<token>` unsubscribes. Mail clients POST there too for RFC 8058 one-click unsubscribe,
  without cookies, so the POST needs no CSRF token: the token in the path is the authority.
- `POST /sms/inbound`: the provider forwards a text sent to the shop's number as JSON `{"from", "text"}`
  (or form fields `from`/`From` and `text`/`Body`) with `Authorization: Bearer <SMS_INBOUND_SECRET>`. The
  answer is JSON `{"action": "stop"|"start"|"help"|"ignored", "reply": text or null}`; the provider texts
  the reply back. Without SMS_INBOUND_SECRET the route answers 404.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, abort, current_app, jsonify, request
from flask_babel.speaklater import LazyString
from werkzeug.wrappers import Response

from portal.errors import DomainError
from portal.errors_pages import api_error
from portal.extensions import csrf, db
from portal.htmx import render_page_or_block
from portal.messaging import optouts, service
from portal.messaging.sequence import CHANNEL_LABELS, get_step
from portal.orders.models import Order
from portal.orders.presenters import describe_window

bp = Blueprint("messaging", __name__)


@bp.get("/unsubscribe/<token>")
def confirm_unsubscribe(token: str) -> Response:
    """Ask before unsubscribing: say what will stop."""
    target = optouts.read_unsubscribe_token(token)
    return render_page_or_block("messaging/unsubscribe.html", "content", token=token, target=target)


@bp.post("/unsubscribe/<token>")
@csrf.exempt
def unsubscribe(token: str) -> Response:
    """Unsubscribe from follow-up e-mails (also the RFC 8058 one-click POST); doing it twice is fine."""
    target = optouts.read_unsubscribe_token(token)
    optouts.unsubscribe(token)
    db.session.commit()
    return render_page_or_block("messaging/unsubscribed.html", "content", target=target)


@bp.post("/sms/inbound")
@csrf.exempt
def inbound_sms() -> tuple[Response, int]:
    """A text to the shop's number: STOP, START or HELP."""
    secret = current_app.config.get("SMS_INBOUND_SECRET")
    if not secret:
        abort(404)
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), str(secret).encode()):
        return api_error(401, "unauthorized", "Send the shared secret as a bearer token.")
    payload = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    data = payload if isinstance(payload, dict) else {}
    sender = str(data.get("from") or data.get("From") or "")
    text = str(data.get("text") or data.get("Body") or "")
    if not sender or len(sender) > 40 or len(text) > 2000:
        return api_error(422, "invalid", "Give the sender's number in `from` and the message in `text`.")
    try:
        reply = optouts.handle_inbound_sms(sender, text)
    except DomainError as error:
        db.session.rollback()
        return api_error(422, error.code, error.message, error.fields)
    db.session.commit()
    return jsonify(action=reply.action, reply=reply.reply), 200


@dataclass(frozen=True)
class SentMessageView:
    step: LazyString
    channel: LazyString
    sent_at: datetime | None


@bp.app_template_global("sent_messages")
def sent_messages(order: Order) -> list[SentMessageView]:
    """The messages sent to the customer about `order` (for the order page, which has checked access)."""
    return [
        SentMessageView(get_step(m.step).label, CHANNEL_LABELS[m.channel], m.sent_at)
        for m in service.sent_messages_of_order(order.id)
    ]


@bp.app_template_global("delivery_window")
def delivery_window(earliest: datetime | None, latest: datetime | None) -> str | None:
    """A delivery window in words, in the language and time zone being rendered."""
    return describe_window(earliest, latest)
