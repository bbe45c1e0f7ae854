"""Answering from the e-mail: a tap opens the page with the score chosen and records nothing; "Send" records
once; then the comment (wording by score), then thanks; the link works without sign-in and expires."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup

from portal import clock
from tests.messaging.conftest import make_shopper
from tests.surveys.conftest import (
    answer,
    comment,
    html_of,
    invitations,
    invite,
    responses,
    survey_email,
    survey_webhooks,
)


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def test_a_tap_opens_the_question_and_only_send_records_once(
    api: Any, client: Any, mailbox: Any, frozen: datetime, responded: list[dict[str, Any]]
) -> None:
    token = invite(api, mailbox)
    assert len(token) >= 22  # at least 128 bits, base64
    [invitation] = invitations()
    assert invitation.token_hash != token and len(invitation.token_hash) == 64  # only the sha256 is kept
    assert invitation.expires_at == frozen + timedelta(days=7 + 30)

    # The e-mail offers 0 to 10, each opening the page with that score chosen.
    links = [a["href"] for a in BeautifulSoup(html_of(survey_email(mailbox)), "html.parser").select("td a")]
    assert links == [f"http://portal.test/surveys/{token}?score={n}" for n in range(11)]

    # A mail scanner (or the customer) following the link records nothing.
    for _ in range(2):
        shown = client.get(f"/surveys/{token}?score=9")
        assert shown.status_code == 200
        assert shown.headers["Referrer-Policy"] == "no-referrer"
        assert page(shown).select_one("#nps-9").has_attr("checked")
    assert responses() == [] and responded == [] and survey_webhooks() == 0

    sent = answer(client, token, nps="9")
    assert sent.status_code == 303 and sent.headers["Location"].endswith(f"/surveys/{token}")
    [response] = responses()
    assert (response.nps, response.csat, response.answered_at) == (9, None, frozen + timedelta(days=7))
    assert len(responded) == 1
    assert responded[0]["invitation_id"] == invitation.id and responded[0]["customer_id"] is None
    assert survey_webhooks() == 1

    # Sending again (the back button, a double tap) changes nothing and rewards nothing.
    again = answer(client, token, nps="2", csat="1")
    assert again.status_code == 303
    [response] = responses()
    assert (response.nps, response.csat) == (9, None)
    assert len(responded) == 1 and survey_webhooks() == 1

    # Coming back shows the answer and only the comment can change.
    back = page(client.get(f"/surveys/{token}"))
    assert "9 out of 10" in back.text
    assert back.select('input[name="nps"]') == [] and back.select_one("textarea#comment") is not None


@pytest.mark.parametrize(
    ("score", "wording"),
    [
        ("3", "We are sorry we let you down"),
        ("6", "We are sorry we let you down"),
        ("7", "What would have made it even better?"),
        ("8", "What would have made it even better?"),
        ("9", "What did you like most?"),
        ("10", "What did you like most?"),
    ],
)
def test_the_comment_step_asks_according_to_the_score(
    api: Any, client: Any, mailbox: Any, frozen: datetime, score: str, wording: str
) -> None:
    token = invite(api, mailbox)
    step = answer(client, token, htmx=True, nps=score)
    assert step.status_code == 200
    fragment = step.get_data(as_text=True)
    assert "<html" not in fragment and 'id="survey"' in fragment
    assert wording in fragment
    assert "Thank you, your answer is saved" in fragment


def test_the_comment_can_be_added_and_changed_but_not_the_scores(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    token = invite(api, mailbox)
    answer(client, token, nps="4", csat="2")
    saved = comment(client, token, "  The parcel was left in the rain.  ")
    assert saved.status_code == 303 and saved.headers["Location"].endswith(f"/surveys/{token}/thanks")
    thanks = page(client.get(f"/surveys/{token}/thanks"))
    assert "Thank you!" in thanks.text and "The parcel was left in the rain." in thanks.text
    [response] = responses()
    assert (response.nps, response.csat, response.comment) == (4, 2, "The parcel was left in the rain.")

    fragment = comment(client, token, "Actually it was fine.", htmx=True)
    assert fragment.status_code == 200 and "Thank you!" in fragment.get_data(as_text=True)
    assert responses()[0].comment == "Actually it was fine."
    too_long = comment(client, token, "x" * 2001)
    assert too_long.status_code == 422
    assert "under 2000 characters" in page(too_long).select_one("#comment-error").text
    assert responses()[0].comment == "Actually it was fine."


def test_a_comment_before_an_answer_goes_back_to_the_question(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    token = invite(api, mailbox)
    early = comment(client, token, "hello")
    assert early.status_code == 303 and early.headers["Location"].endswith(f"/surveys/{token}")
    assert responses() == []
    assert client.get(f"/surveys/{token}/thanks").status_code == 303


def test_bad_answers_are_refused_with_a_message(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    token = invite(api, mailbox)
    for fields in ({}, {"nps": "11"}, {"nps": "ten"}, {"nps": "5", "csat": "9"}):
        refused = answer(client, token, **fields)
        assert refused.status_code == 422, fields
        assert page(refused).select_one(".field-error") is not None
    assert responses() == []
    no_token = client.post(f"/surveys/{token}", data={"nps": "5"})
    assert no_token.status_code == 400 and responses() == []


def test_unknown_and_expired_links_get_a_friendly_404(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    for path in ("/surveys/nope", "/surveys/" + "x" * 300, "/surveys/nope/thanks"):
        missing = client.get(path)
        assert missing.status_code == 404
        assert "This survey link does not work" in missing.get_data(as_text=True)
        assert missing.headers["Referrer-Policy"] == "no-referrer"
    token = invite(api, mailbox)
    assert client.get(f"/surveys/{token}").status_code == 200
    form_page = client.get(f"/surveys/{token}")
    clock.advance(timedelta(days=30))
    expired = client.get(f"/surveys/{token}")
    assert expired.status_code == 404 and "may have expired" in expired.get_data(as_text=True)
    from tests.conftest import csrf_token

    late = client.post(
        f"/surveys/{token}", data={"csrf_token": csrf_token(form_page.get_data(as_text=True)), "nps": "8"}
    )
    assert late.status_code == 404 and responses() == []


def test_guests_hear_what_an_account_would_have_earned(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    token = invite(api, mailbox)
    answer(client, token, nps="10")
    text = page(client.get(f"/surveys/{token}/thanks")).text
    assert "With an account you would have earned 50 bonus points" in text


def test_account_holders_hear_about_their_points(
    api: Any, client: Any, mailbox: Any, frozen: datetime, responded: list[dict[str, Any]]
) -> None:
    user = make_shopper()
    token = invite(api, mailbox)
    answer(client, token, nps="10")
    assert "You earn 50 bonus points" in page(client.get(f"/surveys/{token}/thanks")).text
    assert [signal["customer_id"] for signal in responded] == [user.id]


def test_only_the_csat_question_when_the_shop_asks_only_that(
    app: Any, api: Any, client: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SURVEY_QUESTIONS", ["csat"])
    token = invite(api, mailbox)
    links = [a["href"] for a in BeautifulSoup(html_of(survey_email(mailbox)), "html.parser").select("td a")]
    assert links == [f"http://portal.test/surveys/{token}?csat={n}" for n in range(1, 6)]
    shown = page(client.get(f"/surveys/{token}?csat=2"))
    assert shown.select('input[name="nps"]') == [] and shown.select_one("#csat-2").has_attr("checked")
    assert answer(client, token).status_code == 422
    assert answer(client, token, csat="2").status_code == 303
    [response] = responses()
    assert (response.nps, response.csat) == (None, 2)


def test_the_survey_bonus_lands_in_the_ledger_once(
    api: Any, client: Any, mailbox: Any, frozen: datetime
) -> None:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.loyalty.models import LedgerEntry

    user = make_shopper()
    token = invite(api, mailbox)
    answer(client, token, nps="9")
    answer(client, token, nps="9")
    comment(client, token, "Thanks!")
    [invitation] = invitations()
    db.session.expire_all()
    bonuses = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.source_key == f"survey:{invitation.id}")
    ).all()
    assert [(entry.customer_id, entry.points) for entry in bonuses] == [(user.id, 50)]


def test_answer_posts_are_rate_limited(
    app: Any, api: Any, client: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SURVEY_ANSWER_LIMIT", "3 per hour")
    token = invite(api, mailbox)
    statuses = [answer(client, token, nps="7").status_code for _ in range(4)]
    assert statuses == [303, 303, 303, 429]
    assert len(responses()) == 1
