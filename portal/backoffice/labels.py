"""The reader's words for the codes the back-office shows: order, message, webhook and timeline states, skip
reasons, points ledger kinds. Reuses the areas' own labels where they have them (tracking statuses from the
status macro, steps and channels from the message sequence, return statuses from the returns presenters); an
unknown code is shown as it is stored."""

from __future__ import annotations

from datetime import date, datetime

from flask import get_template_attribute
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.backoffice.receivers import STEP_DISABLED, STOPPED_BY_STAFF
from portal.i18n import date_filter, format_number, when_filter
from portal.messaging import service as messaging
from portal.messaging.sequence import CHANNEL_LABELS, STEPS
from portal.orders.predictions import HANDOVER, RiskReason, decode_reasons
from portal.returns.presenters import STATUS_LABELS as RETURN_STATUS_LABELS
from portal.returns.receivers import RETURNED_REASON
from portal.surveys.service import SURVEYS_OFF, THROTTLED

ORDER_STATUS_LABELS: dict[str, LazyString] = {
    "placed": _l("Order placed"),
    "paid": _l("Payment received"),
    "fulfilled": _l("Order packed"),
    "cancelled": _l("Order cancelled"),
}

MESSAGE_STATUS_LABELS: dict[str, LazyString] = {
    "scheduled": _l("Scheduled"),
    "sending": _l("Being sent"),
    "sent": _l("Sent"),
    "skipped": _l("Skipped"),
    "failed": _l("Failed"),
}

WEBHOOK_STATUS_LABELS: dict[str, LazyString] = {
    "pending": _l("Waiting"),
    "sending": _l("Being sent"),
    "delivered": _l("Delivered"),
    "skipped": _l("Skipped"),
    "failed": _l("Failed"),
}

SKIP_REASON_LABELS: dict[str, LazyString] = {
    messaging.CANCELLED: _l("the order is cancelled"),
    messaging.STALE: _l("too late to be useful"),
    messaging.NO_RECIPIENT: _l("no address to send to"),
    messaging.PREFERENCES: _l("the customer's preferences"),
    messaging.UNSUBSCRIBED: _l("unsubscribed"),
    messaging.SMS_STOPPED: _l("text messages stopped by the customer"),
    messaging.NOT_DELIVERED: _l("the parcel is no longer delivered"),
    messaging.SUPERSEDED: _l("the parcel was delivered already"),
    RETURNED_REASON: _l("everything was returned"),
    STOPPED_BY_STAFF: _l("stopped by staff"),
    STEP_DISABLED: _l("this message is switched off"),
    SURVEYS_OFF: _l("surveys are switched off"),
    THROTTLED: _l("the customer was asked recently"),
}

TIMELINE_KIND_LABELS: dict[str, LazyString] = {
    "order": _l("Order"),
    "tracking": _l("Tracking"),
    "instructions": _l("Delivery instructions"),
    "message": _l("Message"),
    "webhook": _l("Webhook"),
    "audit": _l("Audit"),
    "return": _l("Return"),
    "loyalty": _l("Points"),
    "survey": _l("Survey"),
}

LEDGER_KIND_LABELS: dict[str, LazyString] = {
    "earn": _l("earned"),
    "bonus": _l("bonus"),
    "redeem": _l("redeemed"),
    "expire": _l("expired"),
    "adjust": _l("adjusted"),
    "clawback": _l("taken back"),
}


def _label(labels: dict[str, LazyString], code: str | None) -> str:
    if code is None:
        return ""
    label = labels.get(code)
    return str(label) if label is not None else code


def order_status(code: str) -> str:
    return _label(ORDER_STATUS_LABELS, code)


def message_status(code: str) -> str:
    return _label(MESSAGE_STATUS_LABELS, code)


def webhook_status(code: str) -> str:
    return _label(WEBHOOK_STATUS_LABELS, code)


def skip_reason(code: str | None) -> str:
    return _label(SKIP_REASON_LABELS, code)


def timeline_kind(code: str) -> str:
    return _label(TIMELINE_KIND_LABELS, code)


def ledger_kind(code: str) -> str:
    return _label(LEDGER_KIND_LABELS, code)


def step(code: str) -> str:
    found = STEPS.get(code)
    return str(found.label) if found is not None else code


def channel(code: str) -> str:
    return _label(CHANNEL_LABELS, code)


def return_status(code: str) -> str:
    return _label(RETURN_STATUS_LABELS, code)


def tracking_status(code: str | None) -> str:
    """The words of the status macro (templates/macros/status.html), as plain text."""
    if code is None:
        return ""
    if code == HANDOVER:
        return step(HANDOVER)
    return str(get_template_attribute("macros/status.html", "label")(code).unescape()).strip()


def _risk_sentence(reason: RiskReason) -> str:
    if reason.code == "stalled":
        words = {
            "hours": format_number(int(reason.get("hours") or 0)),
            "status": tracking_status(str(reason.get("status") or "")),
            "limit": format_number(int(reason.get("limit") or 0)),
        }
        if reason.get("basis") == "lane":
            return _(
                "no news for %(hours)s h after “%(status)s” "
                "(limit %(limit)s h: the lane's usual longest gap)",
                **words,
            )
        return _("no news for %(hours)s h after “%(status)s” (limit %(limit)s h: the minimum)", **words)
    if reason.code == "window_ended":
        promised = datetime.fromisoformat(str(reason.get("promised")))
        return _("the promised window ended %(when)s without delivery", when=when_filter(promised))
    if reason.code == "predicted_late":
        return _(
            "predicted by %(predicted)s, promised by %(promised)s",
            predicted=date_filter(date.fromisoformat(str(reason.get("predicted")))),
            promised=date_filter(date.fromisoformat(str(reason.get("promised")))),
        )
    return reason.code


def risk_reason(stored: str | None) -> str:
    """Why a parcel is at risk, in the reader's language; rows stored as English text are shown as is."""
    reasons = decode_reasons(stored)
    if reasons is None:
        return stored or ""
    return "; ".join(_risk_sentence(reason) for reason in reasons)
