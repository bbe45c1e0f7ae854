"""Invitations: made when the survey e-mail goes out (the same link on a re-send), one per order, at most one
per customer in SURVEY_THROTTLE_DAYS (the e-mail of a throttled order is skipped), and the e-mail itself
arriving through the dispatcher and a real worker."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup

from portal import clock
from portal.extensions import db
from portal.messaging import tasks
from portal.surveys import service
from tests.messaging.conftest import deliver, make_shopper, row, send_due, text_of
from tests.surveys.conftest import SURVEY_LINK, invitations, invite, survey_email


def test_no_invitation_before_the_email_goes_out(api: Any, frozen: datetime) -> None:
    deliver(api)
    clock.advance(timedelta(days=6))
    send_due()
    assert invitations() == []
    assert row("1001", "survey_invitation").status == "scheduled"


def test_a_resend_of_the_same_message_carries_the_same_link(
    api: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = invite(api, mailbox)
    message = row("1001", "survey_invitation")
    # As if the SMTP server had lost the first one: the send job runs again for the same row.
    message.status = "scheduled"
    db.session.commit()
    mailbox.messages.clear()
    assert tasks.send_message(message.id) == "sent"
    [again] = mailbox.wait_for(1)
    match = SURVEY_LINK.search(text_of(again))
    assert match and match.group(1) == token
    assert len(invitations()) == 1


def test_a_failed_send_leaves_no_invitation(
    api: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from portal.messaging import channels

    deliver(api)
    clock.advance(timedelta(days=7))
    original = channels.send_email

    def failing(*args: Any, **kwargs: Any) -> str:
        if "How did we do" in args[2].subject:
            raise channels.SendFailed("smtp down")
        return original(*args, **kwargs)

    monkeypatch.setattr(channels, "send_email", failing)
    send_due()
    assert row("1001", "survey_invitation").status == "scheduled"  # to be retried
    assert invitations() == []


def test_one_invitation_per_customer_within_the_throttle_period(
    api: Any, mailbox: Any, frozen: datetime
) -> None:
    deliver(api, "1001")
    clock.advance(timedelta(days=7))
    send_due()  # day 7: the first order's survey
    clock.advance(timedelta(days=3))
    deliver(api, "1002")  # the same customer (same e-mail)
    clock.advance(timedelta(days=7))
    send_due()  # day 17: within 30 days of the first invitation
    assert row("1001", "survey_invitation").status == "sent"
    skipped = row("1002", "survey_invitation")
    assert (skipped.status, skipped.skip_reason) == ("skipped", service.THROTTLED)
    assert [i.order.number for i in invitations()] == ["1001"]

    # After the period, the next order is invited again.
    clock.advance(timedelta(days=23))
    deliver(api, "1003")
    clock.advance(timedelta(days=7))
    send_due()  # day 47
    assert row("1003", "survey_invitation").status == "sent"
    assert [i.order.number for i in invitations()] == ["1001", "1003"]


def test_the_throttle_ignores_the_case_of_the_address(api: Any, mailbox: Any, frozen: datetime) -> None:
    make_shopper("ada@example.com")
    deliver(api, "1001")
    deliver(api, "1002", email="ADA@Example.COM")
    clock.advance(timedelta(days=7))
    send_due()
    statuses = {row(n, "survey_invitation").status for n in ("1001", "1002")}
    assert statuses == {"sent", "skipped"}  # one of the two, whichever the cap let out first
    assert len(invitations()) == 1


def test_other_customers_are_not_throttled(api: Any, mailbox: Any, frozen: datetime) -> None:
    deliver(api, "1001", email="one@example.com")
    deliver(api, "1002", email="two@example.com")
    clock.advance(timedelta(days=7))
    send_due()
    assert [row(n, "survey_invitation").status for n in ("1001", "1002")] == ["sent", "sent"]


def test_no_survey_email_when_the_shop_asks_no_question(
    app: Any, api: Any, mailbox: Any, frozen: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "SURVEY_QUESTIONS", [])
    deliver(api)
    clock.advance(timedelta(days=7))
    send_due()
    message = row("1001", "survey_invitation")
    assert (message.status, message.skip_reason) == ("skipped", service.SURVEYS_OFF)
    assert invitations() == []


@pytest.mark.slow
def test_the_email_with_the_0_to_10_links_arrives_through_the_dispatcher(
    api: Any, mailbox: Any, run_worker: Any, runner: Any, frozen: datetime
) -> None:
    deliver(api)
    due = frozen + timedelta(days=7)
    result = runner.invoke(args=["portal", "dispatch", "--until", due.isoformat()])
    assert result.exit_code == 0, result.output
    worker = run_worker("messages")
    assert worker.returncode == 0, worker.stderr
    mailbox.wait_for(3)
    email = survey_email(mailbox)
    html = BeautifulSoup(email.get_body(("html",)).get_content(), "html.parser")  # type: ignore[union-attr]
    links = [a["href"] for a in html.select("td a")]
    [invitation] = invitations()
    token = service.invitation_token(invitation)
    assert links == [f"http://portal.test/surveys/{token}?score={n}" for n in range(11)]
    assert [a.text for a in html.select("td a")] == [str(n) for n in range(11)]
    assert f"http://portal.test/surveys/{token}" in text_of(email)
    assert email["List-Unsubscribe"]
