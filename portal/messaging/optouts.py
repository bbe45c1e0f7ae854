"""Saying no: one-click unsubscribe links in non-transactional e-mails, and STOP/START/HELP by SMS.

An account holder's unsubscribe flips the same switches the account page shows (follow-up e-mails off, and
marketing consent withdrawn); a guest's is kept by e-mail address. A STOP belongs to the phone number: it
stops every SMS to it, and turns SMS off in the preferences of the accounts with that number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from portal import audit, clock, shop_settings
from portal.accounts.models import User
from portal.accounts.service import MESSAGE_KINDS, channel_preferences, normalise_phone
from portal.config import SUPPORTED_LOCALES
from portal.errors import DomainError
from portal.extensions import db
from portal.messaging.models import MessageSuppression
from portal.messaging.service import Recipient

_UNSUBSCRIBE_SALT = "portal.messaging.unsubscribe"
FOLLOWUPS = "followups"

STOP_WORDS = frozenset({"STOP", "STOPALL", "STOPP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ABMELDEN"})
START_WORDS = frozenset({"START", "UNSTOP", "YES", "ANMELDEN"})
HELP_WORDS = frozenset({"HELP", "INFO", "HILFE"})


class InvalidUnsubscribeLink(DomainError):
    """The unsubscribe link is malformed or was not made by us."""

    status = 404
    code = "invalid_unsubscribe_link"

    def __init__(self) -> None:
        super().__init__(_("This unsubscribe link is not valid. Please use the link from the latest e-mail."))


# --- unsubscribe links --------------------------------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=_UNSUBSCRIBE_SALT)


def make_unsubscribe_token(recipient: Recipient) -> str:
    """A token naming the account (or, for a guest, the address) that the link unsubscribes. It does not
    expire: an unsubscribe link must keep working as long as the e-mail exists."""
    payload: dict[str, Any] = {"u": recipient.user.id} if recipient.user else {"e": recipient.email}
    return str(_serializer().dumps(payload))


@dataclass(frozen=True)
class UnsubscribeTarget:
    user: User | None
    email: str

    @property
    def masked_email(self) -> str:
        local, _at, domain = self.email.partition("@")
        return f"{local[:2]}…@{domain}"


def read_unsubscribe_token(token: str) -> UnsubscribeTarget:
    """Who the link unsubscribes. Raises InvalidUnsubscribeLink."""
    if len(token) > 300:
        raise InvalidUnsubscribeLink()
    try:
        payload = _serializer().loads(token)
    except BadData:
        raise InvalidUnsubscribeLink() from None
    if isinstance(payload, dict) and isinstance(payload.get("u"), int):
        user = db.session.get(User, payload["u"])
        if user is None:
            raise InvalidUnsubscribeLink()
        return UnsubscribeTarget(user, user.email)
    if isinstance(payload, dict) and isinstance(payload.get("e"), str):
        return UnsubscribeTarget(None, payload["e"])
    raise InvalidUnsubscribeLink()


def unsubscribe(token: str, source: str = "unsubscribe_link") -> bool:
    """Stop follow-up e-mails for whoever the link names; True if this changed anything (idempotent).

    Raises InvalidUnsubscribeLink.
    """
    target = read_unsubscribe_token(token)
    if target.user is None:
        return _suppress("email", target.email, FOLLOWUPS, source)
    user = target.user
    preferences = channel_preferences(user)
    if not preferences[FOLLOWUPS]["email"] and not user.marketing_consent:
        return False
    before = {"channel_preferences": preferences, "marketing_consent": user.marketing_consent}
    preferences[FOLLOWUPS]["email"] = False
    user.channel_preferences = preferences
    user.marketing_consent = False
    after = {"channel_preferences": preferences, "marketing_consent": False}
    audit.record(
        audit.Actor.user(user.id, user.email), "messages.unsubscribed", "user", user.id, before, after
    )
    db.session.flush()
    return True


def _suppress(channel: str, address: str, kind: str, source: str) -> bool:
    """Record the opt-out once; True if it is new."""
    table = MessageSuppression.__table__
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(channel=channel, address=address, kind=kind, source=source, created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["channel", "address", "kind"])
        .returning(table.c.id)
    )
    return db.session.scalar(statement) is not None


# --- inbound SMS --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundReply:
    """What an inbound text did, and the text to answer with (None: answer nothing)."""

    action: str  # stop | start | help | ignored
    reply: str | None


def handle_inbound_sms(sender: str, text: str) -> InboundReply:
    """React to a text sent to the shop's number: STOP stops every SMS to the sender (confirmed the first
    time only), START undoes it, HELP explains. Anything else is ignored. Raises Invalid for a bad number."""
    phone = normalise_phone(sender)
    if phone is None:
        return InboundReply("ignored", None)
    words = text.strip().upper().split()
    keyword = words[0].strip(".!") if words else ""
    users = list(db.session.scalars(select(User).where(User.phone == phone)))
    locale = next((u.locale for u in users if u.locale in SUPPORTED_LOCALES), None)
    locale = locale or current_app.config["DEFAULT_LOCALE"]
    shop = shop_settings.get("SHOP_NAME")
    with force_locale(locale):
        if keyword in STOP_WORDS:
            if not _suppress("sms", phone, "all", "sms_stop"):
                return InboundReply("stop", None)
            for user in users:
                _set_sms(user, {kind: False for kind in MESSAGE_KINDS}, "messages.sms_stopped")
            return InboundReply(
                "stop", _("%(shop)s: you will get no more texts from us. Reply START to undo.", shop=shop)
            )
        if keyword in START_WORDS:
            removed = db.session.execute(
                delete(MessageSuppression).where(
                    MessageSuppression.channel == "sms",
                    MessageSuppression.address == phone,
                    MessageSuppression.kind == "all",
                )
            )
            if not getattr(removed, "rowcount", 0):
                return InboundReply("start", None)
            for user in users:
                _set_sms(user, {"updates": True}, "messages.sms_started")
            return InboundReply(
                "start",
                _("%(shop)s: you will get texts about your orders again. Reply STOP to stop.", shop=shop),
            )
        if keyword in HELP_WORDS:
            return InboundReply(
                "help",
                _("%(shop)s: texts about your orders. Reply STOP to stop, START to restart.", shop=shop),
            )
    return InboundReply("ignored", None)


def _set_sms(user: User, choices: dict[str, bool], action: str) -> None:
    preferences = channel_preferences(user)
    before = {"channel_preferences": channel_preferences(user)}
    for kind, on in choices.items():
        preferences[kind]["sms"] = on
    user.channel_preferences = preferences
    audit.record(
        audit.Actor.system("sms"), action, "user", user.id, before, {"channel_preferences": preferences}
    )
    db.session.flush()
