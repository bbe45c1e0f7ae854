"""Messages as the customer reads them: plain template values, rendered in their language and time zone.

E-mails come from `templates/email/<step>/{subject.txt,body.txt,body.html}`, texts from
`templates/sms/<step>.txt`. If a template fails in the customer's language (say, a broken translation), the
message is rendered in English instead and the failure is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import flask_babel
from flask import current_app, render_template
from flask_babel import force_locale

from portal import clock, mail
from portal.extensions import db
from portal.messaging import signals
from portal.messaging.channels import EmailContent
from portal.messaging.models import Message
from portal.messaging.optouts import make_unsubscribe_token
from portal.messaging.sequence import get_step
from portal.messaging.service import Recipient
from portal.orders.guest_models import GuestLink
from portal.orders.models import Order, Shipment
from portal.orders.presenters import EXPLANATIONS, carrier_url
from portal.tokens import hash_token, new_token
from portal.urls import external_url

log = logging.getLogger(__name__)

FALLBACK_LOCALE = "en"
T = TypeVar("T")


@contextmanager
def force_timezone(name: str) -> Iterator[None]:
    """Format dates in the time zone `name` inside the block, as `force_locale` does for the language.

    Flask-Babel keeps the zone it selected on its per-context namespace (`babel_tzinfo`) and offers no
    public way to override it; setting that attribute is exactly what its own selection does.
    """
    babel_context = flask_babel._get_current_context()
    if babel_context is None:
        yield
        return
    missing = object()
    previous = getattr(babel_context, "babel_tzinfo", missing)
    babel_context.babel_tzinfo = ZoneInfo(name)
    try:
        yield
    finally:
        if previous is missing:
            del babel_context.babel_tzinfo
        else:
            babel_context.babel_tzinfo = previous


def template_context(message: Message, recipient: Recipient) -> dict[str, Any]:
    """Everything the step's templates may use, as plain values; may add a guest link to the transaction."""
    order = message.order
    step = get_step(message.step)
    shipment = message.shipment
    context: dict[str, Any] = {
        "step": step.name,
        "customer_name": recipient.name,
        "order_number": order.number,
        "order_url": _order_url(order, recipient, shipment),
        "placed_at": order.placed_at,
        "total": order.total,
        "currency": order.currency,
        "items": _items(order, shipment),
        "shipment": _shipment(shipment) if shipment is not None else None,
        "explanation": EXPLANATIONS.get(shipment.status or "") if shipment is not None else None,
        "event_at": message.event_at,
        "unsubscribe_url": None,
        "transactional": step.transactional,
    }
    if not step.transactional:
        context["unsubscribe_url"] = unsubscribe_url(recipient)
    context.update(message.context or {})
    for _receiver, extra in signals.message_context.send(message, order=order):
        if isinstance(extra, dict):
            context.update(extra)
    return context


def unsubscribe_url(recipient: Recipient) -> str:
    return external_url("messaging.unsubscribe", token=make_unsubscribe_token(recipient))


def _order_url(order: Order, recipient: Recipient, shipment: Shipment | None) -> str:
    """The order page for an account holder; for a guest a sign-in link to it (single-use, long-lived)."""
    if recipient.user is not None:
        anchor = f"#parcel-{shipment.tracking_number}" if shipment is not None else ""
        return external_url("orders.order_detail", number=order.number) + anchor
    now = clock.now()
    token = new_token()
    days = int(current_app.config["MESSAGE_GUEST_LINK_DAYS"])
    db.session.add(
        GuestLink(
            order_id=order.id,
            token_hash=hash_token(token),
            created_at=now,
            sent_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    db.session.flush()
    return external_url("guest.confirm_link", token=token)


def _items(order: Order, shipment: Shipment | None) -> list[dict[str, Any]]:
    if shipment is None:
        return [{"name": i.name, "variant": i.variant, "quantity": i.quantity} for i in order.items]
    return [
        {"name": line.order_item.name, "variant": line.order_item.variant, "quantity": line.quantity}
        for line in shipment.items
    ]


def _shipment(shipment: Shipment) -> dict[str, Any]:
    earliest = shipment.predicted_earliest or shipment.promised_earliest
    latest = shipment.predicted_latest or shipment.promised_latest
    return {
        "tracking_number": shipment.tracking_number,
        "carrier": shipment.carrier,
        "carrier_url": carrier_url(shipment.carrier, shipment.tracking_number),
        "status": shipment.status,
        "window_earliest": earliest,
        "window_latest": latest,
        "delivered_at": shipment.delivered_at,
    }


def _in_locale(name: str, locale: str, timezone: str, render: Callable[[str], T]) -> tuple[T, str]:
    """`render(locale)` in the customer's language and zone; in English if that fails (logged)."""
    try:
        with force_timezone(timezone):
            return render(locale), locale
    except Exception:
        if locale == FALLBACK_LOCALE:
            raise
        log.exception("rendering %s in %r failed; sending it in English", name, locale)
    with force_timezone(timezone):
        return render(FALLBACK_LOCALE), FALLBACK_LOCALE


def render_email(step: str, locale: str, timezone: str, context: dict[str, Any]) -> tuple[EmailContent, str]:
    """The e-mail of `step` and the language it came out in."""

    def render(language: str) -> EmailContent:
        subject, text, html = mail.render_email(step, language, **context)
        return EmailContent(subject, text, html)

    return _in_locale(f"e-mail {step}", locale, timezone, render)


def render_sms(step: str, locale: str, timezone: str, context: dict[str, Any]) -> tuple[str, str]:
    """The text of `step` (whitespace collapsed) and the language it came out in."""

    def render(language: str) -> str:
        with force_locale(language):
            return " ".join(render_template(f"sms/{step}.txt", **context).split())

    return _in_locale(f"SMS {step}", locale, timezone, render)
