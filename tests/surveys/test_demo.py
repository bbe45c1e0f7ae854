"""The demo shop comes with survey answers: deterministic, written once however often it is seeded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.surveys.models import SurveyInvitation, SurveyResponse

NOW = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)


def counts() -> tuple[int, int, int]:
    responses = db.session.scalar(select(func.count()).select_from(SurveyResponse)) or 0
    invitations = db.session.scalar(select(func.count()).select_from(SurveyInvitation)) or 0
    comments = db.session.scalar(select(func.count()).where(SurveyResponse.comment.is_not(None))) or 0
    return int(responses), int(invitations), int(comments)


def test_the_demo_has_survey_answers_once(runner: Any) -> None:
    with clock.freeze(NOW):
        assert runner.invoke(args=["portal", "seed", "--demo"]).exit_code == 0
        first = counts()
        assert runner.invoke(args=["portal", "seed", "--demo"]).exit_code == 0
    responses, invitations, comments = first
    assert responses >= 5 and invitations >= responses and comments >= 1
    assert counts() == first
    scores = set(db.session.scalars(select(SurveyResponse.nps)))
    assert scores <= set(range(11)) and len(scores) >= 3
