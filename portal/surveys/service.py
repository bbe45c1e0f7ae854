"""Survey invitations and answers: making the invitation when its e-mail goes out, the throttle, recording
an answer once, the comment, and the tracking page's star rating.

Functions flush and never commit; the view or the send job commits once. Recording the first answer of an
invitation sends `signals.survey_responded` (loyalty awards the bonus) exactly once, guarded by a conditional
UPDATE of the invitation; every recorded change queues the `survey.responded` webhook with the whole response.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from portal import shop_settings
from portal.errors import Conflict, Invalid, NotFound
from portal.extensions import db
from portal.orders.access import Viewer
from portal.orders.models import Order
from portal.surveys import signals
from portal.surveys.models import SurveyInvitation, SurveyResponse
from portal.tokens import hash_token
from portal.webhooks.service import queue_webhook

SURVEY_STEP = "survey_invitation"
# Skip reasons the messaging area records on the survey message (at most 40 characters).
THROTTLED = "survey_throttled"
SURVEYS_OFF = "surveys_off"
QUESTIONS = ("nps", "csat")
NPS_SCORES = range(0, 11)
CSAT_SCORES = range(1, 6)
COMMENT_MAX_LENGTH = 2000
TOKEN_MAX_LENGTH = 100  # a token is 43 characters


class SurveyLinkInvalid(NotFound):
    """The survey link is unknown or has expired (deliberately not saying which)."""

    code = "survey_link_invalid"


class NotDelivered(Conflict):
    """The order has not been delivered yet, so there is nothing to rate."""

    code = "not_delivered"


@dataclass(frozen=True)
class Answer:
    response: SurveyResponse
    # False when the invitation had been answered already: nothing was changed.
    recorded: bool


# --- settings and bands ---------------------------------------------------------------------------------


def questions() -> tuple[str, ...]:
    """The questions the shop asks, in page order ("nps", "csat"), from SURVEY_QUESTIONS."""
    configured = shop_settings.get("SURVEY_QUESTIONS") or ()
    return tuple(name for name in QUESTIONS if name in configured)


def band(response: SurveyResponse) -> str:
    """ "detractor", "passive" or "promoter": by the NPS score, or the CSAT score where NPS was not asked."""
    if response.nps is not None:
        return nps_band(response.nps)
    if response.csat is not None:
        return "detractor" if response.csat <= 2 else "passive" if response.csat == 3 else "promoter"
    return "passive"


def nps_band(score: int) -> str:
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


# --- tokens ---------------------------------------------------------------------------------------------


def invitation_token(invitation: SurveyInvitation) -> str:
    """The secret in the invitation's link: HMAC-SHA256(SECRET_KEY, the row's random nonce), 256 bits.

    Derived rather than stored so a re-sent e-mail carries the same working link; the nonce alone (in the
    database) is useless without the key.
    """
    return _token_for_nonce(invitation.token_nonce)


def _token_for_nonce(nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, f"survey-invitation:{nonce}".encode(), hashlib.sha256).digest()
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def find_invitation(token: str, now: datetime) -> SurveyInvitation:
    """The live invitation of `token`. Raises SurveyLinkInvalid when it is malformed, unknown or expired."""
    if not token or len(token) > TOKEN_MAX_LENGTH:
        raise SurveyLinkInvalid(_("This survey link is not valid."))
    invitation = db.session.scalar(
        select(SurveyInvitation).where(SurveyInvitation.token_hash == hash_token(token))
    )
    if invitation is None or invitation.expires_at <= now:
        raise SurveyLinkInvalid(_("This survey link is not valid."))
    return invitation


# --- invitations ----------------------------------------------------------------------------------------


def customer_email(order: Order) -> str:
    """The customer's address across orders: the account's, else the one given with the order."""
    email = order.customer.email if order.customer is not None else order.email
    return email.strip().lower()


def invitation_of_order(order_id: int) -> SurveyInvitation | None:
    return db.session.scalar(select(SurveyInvitation).where(SurveyInvitation.order_id == order_id))


def is_throttled(order: Order, now: datetime) -> bool:
    """True when the customer was invited for another order within SURVEY_THROTTLE_DAYS before `now`.

    An order that has its invitation already is never throttled: its e-mail may be sent again.
    """
    if invitation_of_order(order.id) is not None:
        return False
    since = now - timedelta(days=int(shop_settings.get("SURVEY_THROTTLE_DAYS")))
    same_customer = SurveyInvitation.email == customer_email(order)
    if order.customer_id is not None:
        same_customer = or_(same_customer, SurveyInvitation.customer_id == order.customer_id)
    found = db.session.scalar(
        select(SurveyInvitation.id)
        .where(same_customer, SurveyInvitation.created_at > since, SurveyInvitation.order_id != order.id)
        .limit(1)
    )
    return found is not None


def invite(order: Order, now: datetime) -> tuple[SurveyInvitation, str]:
    """The order's invitation and its link token, made on first call (one per order, race-safe); flushes.

    Expires SURVEY_INVITATION_DAYS after it is made. Should SECRET_KEY have been rotated since, the stored
    hash follows the newly derived token (older links of this invitation then stop working).
    """
    nonce = secrets.token_hex(16)
    values: dict[str, Any] = {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "email": customer_email(order),
        "token_nonce": nonce,
        "token_hash": hash_token(_token_for_nonce(nonce)),
        "created_at": now,
        "expires_at": now + timedelta(days=int(shop_settings.get("SURVEY_INVITATION_DAYS"))),
    }
    db.session.execute(_insert_ignoring_duplicates(SurveyInvitation, values, "order_id"))
    invitation = db.session.scalar(
        select(SurveyInvitation)
        .where(SurveyInvitation.order_id == order.id)
        .execution_options(populate_existing=True)
    )
    assert invitation is not None
    token = invitation_token(invitation)
    if invitation.token_hash != hash_token(token):
        invitation.token_hash = hash_token(token)
    # A star rating given on the tracking page before the invitation existed becomes part of its response.
    db.session.execute(
        update(SurveyResponse)
        .where(SurveyResponse.order_id == order.id, SurveyResponse.invitation_id.is_(None))
        .values(invitation_id=invitation.id)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    return invitation, token


def _insert_ignoring_duplicates(model: Any, values: dict[str, Any], unique_column: str) -> Any:
    """INSERT … ON CONFLICT (unique_column) DO NOTHING, on SQLite and PostgreSQL."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(model.__table__).values(**values).on_conflict_do_nothing(index_elements=[unique_column])


# --- responses ------------------------------------------------------------------------------------------


def response_of_order(order_id: int) -> SurveyResponse | None:
    return db.session.scalar(select(SurveyResponse).where(SurveyResponse.order_id == order_id))


def _locked_response(order: Order, invitation: SurveyInvitation | None, now: datetime) -> SurveyResponse:
    """The order's response row, made if missing, locked for this transaction (PostgreSQL) and fresh."""
    values: dict[str, Any] = {
        "order_id": order.id,
        "customer_id": order.customer_id,
        "responded_at": now,
        "created_at": now,
        "updated_at": now,
    }
    db.session.execute(_insert_ignoring_duplicates(SurveyResponse, values, "order_id"))
    response = db.session.scalar(
        select(SurveyResponse)
        .where(SurveyResponse.order_id == order.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert response is not None
    if invitation is not None and response.invitation_id is None:
        response.invitation_id = invitation.id
    return response


def _check_scores(nps: int | None, csat: int | None) -> None:
    asked = questions()
    problems: dict[str, str] = {}
    if "nps" in asked and (nps is None or nps not in NPS_SCORES):
        problems["nps"] = _("Choose a number from 0 to 10.")
    if csat is not None and ("csat" not in asked or csat not in CSAT_SCORES):
        problems["csat"] = _("Choose from 1 to 5 stars.")
    if asked == ("csat",) and csat is None:
        problems["csat"] = _("Choose from 1 to 5 stars.")
    if "nps" not in asked and nps is not None:
        problems["nps"] = _("This question is not asked.")
    if problems:
        raise Invalid(_("Please check your answer."), fields=problems)


def record_answer(invitation: SurveyInvitation, nps: int | None, csat: int | None, now: datetime) -> Answer:
    """Record the survey page's answer once per invitation; a second answer changes nothing.

    A CSAT left out keeps the star rating given on the tracking page. Raises Invalid for scores outside the
    scales or missing where asked. Flushes.
    """
    _check_scores(nps, csat)
    response = _locked_response(invitation.order, invitation, now)
    if response.answered_at is not None:
        return Answer(response, recorded=False)
    response.nps = nps
    if csat is not None:
        response.csat = csat
    response.answered_at = now
    db.session.flush()
    _first_answer(invitation, response, now)
    _tell_shop(response)
    return Answer(response, recorded=True)


def save_comment(invitation: SurveyInvitation, comment: str, now: datetime) -> SurveyResponse:
    """Set (or change, or clear) the comment of an answered invitation. Raises Conflict before an answer,
    Invalid when it is too long. Flushes."""
    text = comment.strip()
    if len(text) > COMMENT_MAX_LENGTH:
        raise Invalid(
            _("Please keep it under %(max)d characters.", max=COMMENT_MAX_LENGTH),
            fields={"comment": _("Please keep it under %(max)d characters.", max=COMMENT_MAX_LENGTH)},
        )
    response = _locked_response(invitation.order, invitation, now)
    if response.answered_at is None:
        raise Conflict(_("Please answer the question first."), code="not_answered")
    new = text or None
    if new != response.comment:
        response.comment = new
        response.commented_at = now
        db.session.flush()
        _tell_shop(response)
    return response


def may_rate(viewer: Viewer, order: Order) -> bool:
    """Only the customer rates: the account holder, or a guest holding a grant for the order (not staff)."""
    owner = viewer.user_id is not None and order.customer_id == viewer.user_id
    return owner or order.id in viewer.granted_order_ids


def is_delivered(order: Order) -> bool:
    return (
        order.status != "cancelled"
        and bool(order.shipments)
        and all(s.status == "delivered" for s in order.shipments)
    )


def rate_delivery(order: Order, viewer: Viewer, csat: int, now: datetime) -> Answer:
    """Record the tracking page's star rating as the CSAT of the order's response, once (it is then shown).

    Counts as the answer of the order's invitation when there is one. Raises NotFound for a viewer who may
    not rate, NotDelivered before delivery, Invalid for a rating outside 1–5. Flushes.
    """
    if not may_rate(viewer, order):
        raise NotFound(_("We could not find that page."))
    if not is_delivered(order):
        raise NotDelivered(_("You can rate the delivery once your order has arrived."))
    if csat not in CSAT_SCORES:
        raise Invalid(_("Choose from 1 to 5 stars."), fields={"rating": _("Choose from 1 to 5 stars.")})
    invitation = invitation_of_order(order.id)
    response = _locked_response(order, invitation, now)
    if response.csat is not None:
        return Answer(response, recorded=False)
    response.csat = csat
    response.rated_at = now
    db.session.flush()
    if invitation is not None:
        _first_answer(invitation, response, now)
    _tell_shop(response)
    return Answer(response, recorded=True)


def _first_answer(invitation: SurveyInvitation, response: SurveyResponse, now: datetime) -> None:
    """Mark the invitation answered; whoever flips it tells the other areas (once, even under a race)."""
    result = db.session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.id == invitation.id, SurveyInvitation.responded_at.is_(None))
        .values(responded_at=now)
        .execution_options(synchronize_session=False)
    )
    if not cast(CursorResult[Any], result).rowcount:
        return
    invitation.responded_at = now
    signals.survey_responded.send(
        response, invitation_id=invitation.id, order_id=response.order_id, customer_id=response.customer_id
    )


def webhook_data(response: SurveyResponse) -> dict[str, Any]:
    """The `data` of the survey.responded webhook: the whole response as it is now."""
    return {
        "response_id": response.id,
        "order_number": response.order.number,
        "nps": response.nps,
        "csat": response.csat,
        "comment": response.comment,
        "customer": "account" if response.customer_id is not None else "guest",
        "responded_at": response.responded_at.isoformat(),
        "answered_at": response.answered_at.isoformat() if response.answered_at else None,
        "rated_at": response.rated_at.isoformat() if response.rated_at else None,
    }


def _tell_shop(response: SurveyResponse) -> None:
    queue_webhook("survey.responded", webhook_data(response))
