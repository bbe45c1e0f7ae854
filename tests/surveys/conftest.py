"""Helpers for the survey tests: a delivered order whose survey e-mail went out (in-process, under the frozen
clock, through the real SMTP sink), the link's token from that e-mail, and a recorder of the signal."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.surveys import signals
from portal.surveys.models import SurveyInvitation, SurveyResponse
from portal.webhooks.models import WebhookDelivery
from tests.conftest import csrf_token
from tests.messaging.conftest import deliver, frozen, html_of, send_due, text_of  # noqa: F401 - fixture

SURVEY_LINK = re.compile(r"http://portal\.test/surveys/([A-Za-z0-9_-]+)")


def survey_email(mailbox: Any, number: str = "1001") -> Any:
    """The survey invitation of order `number` among the e-mails received."""
    wanted = f"How did we do with order {number}?"
    found = [message for message in mailbox.messages if message["Subject"] == wanted]
    assert len(found) == 1, [str(m["Subject"]) for m in mailbox.messages]
    return found[0]


def invite(api: Any, mailbox: Any, number: str = "1001", **order: Any) -> str:
    """Deliver the order now, move a week on, send what is due; return the token from the survey e-mail."""
    deliver(api, number, **order)
    clock.advance(timedelta(days=7))
    send_due()
    mailbox.wait_for(1)
    match = SURVEY_LINK.search(text_of(survey_email(mailbox, number)))
    assert match, "no survey link in the e-mail"
    return match.group(1)


def answer(client: Any, token: str, htmx: bool = False, **fields: Any) -> Any:
    page = client.get(f"/surveys/{token}")
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), **fields}
    return client.post(f"/surveys/{token}", data=data, headers=headers)


def comment(client: Any, token: str, text: str, htmx: bool = False) -> Any:
    page = client.get(f"/surveys/{token}")
    headers = {"HX-Request": "true"} if htmx else {}
    data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "comment": text}
    return client.post(f"/surveys/{token}/comment", data=data, headers=headers)


def responses() -> list[SurveyResponse]:
    db.session.expire_all()
    return list(db.session.scalars(select(SurveyResponse).order_by(SurveyResponse.id)))


def invitations() -> list[SurveyInvitation]:
    db.session.expire_all()
    return list(db.session.scalars(select(SurveyInvitation).order_by(SurveyInvitation.id)))


def survey_webhooks() -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.type == "survey.responded")
        )
        or 0
    )


@pytest.fixture
def responded() -> Iterator[list[dict[str, Any]]]:
    """Every survey_responded signal sent during the test, as its keyword arguments."""
    received: list[dict[str, Any]] = []

    def record(response: Any, **kwargs: Any) -> None:
        received.append({"response": response, **kwargs})

    signals.survey_responded.connect(record, weak=False)
    yield received
    signals.survey_responded.disconnect(record)
