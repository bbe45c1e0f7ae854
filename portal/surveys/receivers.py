"""The surveys area's reactions to other areas' signals: the messaging area asks, before sending the
survey_invitation e-mail, whether it may go (the per-customer throttle) and what links to put in it."""

from __future__ import annotations

from typing import Any

from portal import clock
from portal.messaging import signals as messaging_signals
from portal.orders.models import Order
from portal.surveys import service
from portal.urls import external_url


def veto_survey_message(message: Any, *, order: Order, **_: Any) -> str | None:
    """Skip the survey e-mail when no question is asked, or the customer was had another invitation lately."""
    if message.step != service.SURVEY_STEP:
        return None
    if not service.questions():
        return service.SURVEYS_OFF
    if service.is_throttled(order, clock.now()):
        return service.THROTTLED
    return None


def survey_links(message: Any, *, order: Order, **_: Any) -> dict[str, Any] | None:
    """Make the order's invitation (once; a re-send gets the same link) and give the e-mail its links.

    `survey_scale` is the first question ("nps" or "csat"); `survey_score_urls` one (score, url) per answer
    of it, each opening the page with that score chosen (the page records nothing until "Send").
    """
    if message.step != service.SURVEY_STEP:
        return None
    asked = service.questions()
    if not asked:
        return None
    _invitation, token = service.invite(order, clock.now())
    survey_url = external_url("surveys.survey", token=token)
    scale = asked[0]
    scores = service.NPS_SCORES if scale == "nps" else service.CSAT_SCORES
    parameter = "score" if scale == "nps" else "csat"
    return {
        "survey_url": survey_url,
        "survey_scale": scale,
        "survey_score_urls": [
            (score, external_url("surveys.survey", token=token, **{parameter: score})) for score in scores
        ],
    }


def connect() -> None:
    """Connect this area's receivers (called once per process from portal.signals_wiring)."""
    messaging_signals.message_due.connect(veto_survey_message, weak=False)
    messaging_signals.message_context.connect(survey_links, weak=False)
