"""Answering a survey (no sign-in: the link's token is the authority), the tracking page's delivery rating,
and (in `report_views`) the staff reports.

`/surveys/<token>` never records on GET: mail scanners follow links. The page works without JavaScript; with
htmx the steps (question → comment → thanks) swap in place. Token pages send `Referrer-Policy: no-referrer`
so the token never leaves in a Referer header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, abort, flash, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal import clock, shop_settings
from portal.errors import Conflict, Invalid
from portal.extensions import db, limiter
from portal.htmx import render_page_or_block, wants_fragment
from portal.orders.access import current_viewer, order_for_viewer
from portal.orders.models import Order
from portal.rate_limits import configured_limit
from portal.surveys import service
from portal.surveys.models import SurveyInvitation, SurveyResponse

bp = Blueprint("surveys", __name__)

PAGE = "surveys/survey.html"
RATING = "surveys/_rating.html"


def _no_referrer(view: Callable[..., Response]) -> Callable[..., Response]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Response:
        try:
            response = view(*args, **kwargs)
        except service.SurveyLinkInvalid:
            db.session.rollback()
            response = make_response(render_template("surveys/invalid.html"), 404)
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _score(raw: str | None, scale: range) -> int | None:
    """A posted or linked score: None when absent; -1 (refused by the service) when not a number."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        return -1
    return value if value in scale else -1


@dataclass(frozen=True)
class Reward:
    points: int
    has_account: bool


def _render(
    invitation: SurveyInvitation,
    response: SurveyResponse | None,
    state: str,
    status: int = 200,
    **context: Any,
) -> Response:
    context.setdefault("errors", {})
    context.setdefault("chosen", {})
    context.setdefault("comment", response.comment if response is not None else "")
    return render_page_or_block(
        PAGE,
        "survey",
        status=status,
        state=state,
        invitation=invitation,
        response=response,
        band=service.band(response) if response is not None else None,
        asked=service.questions(),
        reward=Reward(
            int(shop_settings.get("LOYALTY_SURVEY_BONUS")), invitation.order.customer_id is not None
        ),
        token=request.view_args["token"] if request.view_args else "",
        **context,
    )


@bp.get("/surveys/<token>")
@_no_referrer
def survey(token: str) -> Response:
    """The question with the linked score chosen (records nothing); once answered, the answer and comment."""
    invitation = service.find_invitation(token, clock.now())
    response = service.response_of_order(invitation.order_id)
    if response is not None and response.answered_at is not None:
        return _render(invitation, response, "comment")
    chosen = {
        "nps": _score(request.args.get("score"), service.NPS_SCORES),
        "csat": _score(request.args.get("csat"), service.CSAT_SCORES),
    }
    if chosen["csat"] is None and response is not None:
        chosen["csat"] = response.csat
    return _render(invitation, response, "question", chosen=chosen)


@bp.post("/surveys/<token>")
@limiter.limit(configured_limit("SURVEY_ANSWER_LIMIT"))
@_no_referrer
def answer(token: str) -> Response:
    """Record the answer ("Send"): once per invitation; sending again changes nothing."""
    invitation = service.find_invitation(token, clock.now())
    chosen = {
        "nps": _score(request.form.get("nps"), service.NPS_SCORES),
        "csat": _score(request.form.get("csat"), service.CSAT_SCORES),
    }
    if not FlaskForm().validate_on_submit():
        return _render(invitation, None, "question", status=400, chosen=chosen, expired_form=True)
    try:
        result = service.record_answer(invitation, chosen["nps"], chosen["csat"], clock.now())
    except Invalid as invalid:
        db.session.rollback()
        return _render(invitation, None, "question", status=422, chosen=chosen, errors=invalid.fields)
    db.session.commit()
    if not wants_fragment():
        if result.recorded:
            flash(_("Thank you, your answer is saved."), "success")
        return redirect(url_for(".survey", token=token), code=303)
    return _render(invitation, result.response, "comment", just_answered=result.recorded)


@bp.post("/surveys/<token>/comment")
@limiter.limit(configured_limit("SURVEY_ANSWER_LIMIT"))
@_no_referrer
def comment(token: str) -> Response:
    """Add or change the comment of an answered survey; then the thanks."""
    invitation = service.find_invitation(token, clock.now())
    text = request.form.get("comment", "")
    response = service.response_of_order(invitation.order_id)
    if not FlaskForm().validate_on_submit():
        return _render(invitation, response, "comment", status=400, comment=text, expired_form=True)
    try:
        response = service.save_comment(invitation, text, clock.now())
    except Conflict:
        db.session.rollback()
        return redirect(url_for(".survey", token=token), code=303)
    except Invalid as invalid:
        db.session.rollback()
        return _render(invitation, response, "comment", status=422, comment=text, errors=invalid.fields)
    db.session.commit()
    if not wants_fragment():
        return redirect(url_for(".thanks", token=token), code=303)
    return _render(invitation, response, "thanks")


@bp.get("/surveys/<token>/thanks")
@_no_referrer
def thanks(token: str) -> Response:
    """The thanks after an answer (and what it earned); before an answer, back to the question."""
    invitation = service.find_invitation(token, clock.now())
    response = service.response_of_order(invitation.order_id)
    if response is None or response.answered_at is None:
        return redirect(url_for(".survey", token=token), code=303)
    return _render(invitation, response, "thanks")


# --- the delivery rating on the order page ----------------------------------------------------------------


@dataclass(frozen=True)
class RatingPanel:
    """The "How was your delivery?" card of an order page: plain values."""

    order_number: str
    url: str
    rating: int | None
    may_rate: bool


def _rating_panel(order: Order, response: SurveyResponse | None) -> RatingPanel | None:
    if "csat" not in service.questions() or not service.is_delivered(order):
        return None
    rating = response.csat if response is not None else None
    may_rate = service.may_rate(current_viewer(), order)
    if rating is None and not may_rate:
        return None
    return RatingPanel(order.number, url_for("surveys.rate", number=order.number), rating, may_rate)


@bp.app_template_global()
def delivery_rating(order: Order) -> RatingPanel | None:
    """The rating card for the order page (one query, only for a delivered order)."""
    cache: dict[int, RatingPanel | None] = g.setdefault("delivery_rating_panels", {})
    if order.id not in cache:
        delivered = "csat" in service.questions() and service.is_delivered(order)
        response = service.response_of_order(order.id) if delivered else None
        cache[order.id] = _rating_panel(order, response)
    return cache[order.id]


def _render_rating(order: Order, status: int = 200, **context: Any) -> Response:
    panel = _rating_panel(order, service.response_of_order(order.id))
    context.setdefault("message", None)
    return render_page_or_block(RATING, "rating", status=status, order=order, panel=panel, **context)


@bp.get("/orders/<ref:number>/rating")
def rating(number: str) -> Response:
    """The rating card (htmx); a normal request goes to the order page, which shows it."""
    order = order_for_viewer(number)
    if not wants_fragment():
        return redirect(url_for("orders.order_detail", number=number, _anchor="delivery-rating"))
    return _render_rating(order)


@bp.post("/orders/<ref:number>/rating")
def rate(number: str) -> Response:
    """Record the star rating as the CSAT of the order's survey response."""
    order = order_for_viewer(number)
    if not service.may_rate(current_viewer(), order):
        abort(404)
    if not FlaskForm().validate_on_submit():
        abort(400)
    stars = _score(request.form.get("rating"), service.CSAT_SCORES)
    try:
        service.rate_delivery(order, current_viewer(), stars if stars is not None else -1, clock.now())
    except Invalid as invalid:
        db.session.rollback()
        if not wants_fragment():
            flash(invalid.fields.get("rating", invalid.message), "error")
            return redirect(
                url_for("orders.order_detail", number=number, _anchor="delivery-rating"), code=303
            )
        return _render_rating(order, status=422, error=invalid.fields.get("rating"))
    except service.NotDelivered as conflict:
        db.session.rollback()
        if not wants_fragment():
            flash(conflict.message, "warning")
            return redirect(url_for("orders.order_detail", number=number), code=303)
        return _render_rating(order, status=409, message=conflict.message)
    db.session.commit()
    message = _("Thank you for rating your delivery.")
    if not wants_fragment():
        flash(message, "success")
        return redirect(url_for("orders.order_detail", number=number, _anchor="delivery-rating"), code=303)
    return _render_rating(order, message=message)


from portal.surveys import report_views  # noqa: E402, F401 - registers the staff report routes on `bp`
