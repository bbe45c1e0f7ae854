"""'Email me a link instead': one answer for hit and miss, a real worker sends it, the link works once."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient
from rq.job import JobStatus
from sqlalchemy import select

import portal.queue
from portal import clock
from portal.extensions import db
from portal.orders.guest_models import GuestLink
from portal.orders.guest_tasks import send_guest_link, sweep_guest_links
from portal.orders.models import Order
from portal.queue import get_queue
from tests.conftest import Mailbox, csrf_token
from tests.guest.conftest import granted_order_ids, post_lookup, without_csrf_tokens

SENT = "If an order matches, we have sent a link to that address."
INVALID = "This link has expired or was already used"
LINK = re.compile(r"https?://[^\s\"<>]+/track/link/[A-Za-z0-9_-]+")


def ask_for_link(client: FlaskClient, number: str = "DS-1001", email: str = "ada@example.com") -> Any:
    return post_lookup(client, number, email, path="/track/link")


def link_path(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    match = LINK.search(body.get_content())
    assert match, body.get_content()
    return urlsplit(match.group(0)).path


def only_link() -> GuestLink:
    db.session.expire_all()
    return db.session.scalars(select(GuestLink)).one()


def test_the_link_is_sent_by_the_worker_and_works_once(
    app: Flask, client: FlaskClient, order: Order, mailbox: Mailbox, run_worker: Any
) -> None:
    response = ask_for_link(client, " #ds-1001 ", " ADA@example.COM ")

    assert response.status_code == 200
    assert SENT in response.get_data(as_text=True)
    assert granted_order_ids(client) == frozenset()  # asking grants nothing
    link = only_link()
    assert link.token_hash is None and link.sent_at is None
    # Only the row id travels through Redis: the token does not exist yet.
    job = get_queue("messages").fetch_job(f"guest-link-{link.id}")
    assert job is not None and job.args == (link.id,)

    result = run_worker("messages")

    assert result.returncode == 0, result.stderr
    messages = mailbox.wait_for(1)
    assert len(messages) == 1
    message = messages[0]
    assert "ada@example.com" in message["To"]
    assert "DS-1001" in message["Subject"]
    html = message.get_body(("html",))
    assert html is not None and "/track/link/" in html.get_content()
    path = link_path(message)
    token = path.rsplit("/", 1)[1]
    link = only_link()
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert link.sent_at is not None and link.used_at is None

    browser = app.test_client()  # the mail is opened wherever the guest reads it
    for _ in range(2):  # a GET (a mail scanner, a preview) does not use the link up
        confirm = browser.get(path)
        assert confirm.status_code == 200
        form = BeautifulSoup(confirm.data, "html.parser").find("form", action=path)
        assert form is not None and form["method"] == "post"
    assert only_link().used_at is None
    assert granted_order_ids(browser) == frozenset()

    redeemed = browser.post(path, data={"csrf_token": csrf_token(confirm.get_data(as_text=True))})

    assert redeemed.status_code == 303
    assert redeemed.headers["Location"] == "/orders/DS-1001"
    assert granted_order_ids(browser) == {order.id}
    assert only_link().used_at is not None

    again = app.test_client()
    token_page = again.get("/track")
    refused = again.post(path, data={"csrf_token": csrf_token(token_page.get_data(as_text=True))})
    assert refused.status_code == 410
    assert INVALID in refused.get_data(as_text=True)
    assert BeautifulSoup(refused.data, "html.parser").find("a", href="/track") is not None
    assert granted_order_ids(again) == frozenset()
    assert browser.get(path).status_code == 410


def test_a_miss_sends_nothing_and_answers_the_same(
    client: FlaskClient, order: Order, mailbox: Mailbox, run_worker: Any
) -> None:
    hit = ask_for_link(client, "DS-1001", "ada@example.com")
    miss_number = ask_for_link(client, "DS-9999", "ada@example.com")
    miss_email = ask_for_link(client, "DS-1001", "eve@example.com")

    assert hit.status_code == miss_number.status_code == miss_email.status_code == 200
    pages = {without_csrf_tokens(page.get_data(as_text=True)) for page in (hit, miss_number, miss_email)}
    assert len(pages) == 1
    assert SENT in pages.pop()
    assert db.session.scalars(select(GuestLink.order_id)).all() == [order.id]
    assert get_queue("messages").count == 1

    assert run_worker("messages").returncode == 0
    assert len(mailbox.wait_for(2, timeout=2)) == 1


def test_the_job_sends_once_even_when_run_twice(client: FlaskClient, order: Order, mailbox: Mailbox) -> None:
    ask_for_link(client)
    link = only_link()

    assert send_guest_link(link.id) is True
    assert send_guest_link(link.id) is False

    assert len(mailbox.wait_for(2, timeout=1)) == 1
    assert "http://portal.test/track/link/" in mailbox.messages[0].get_body(("plain",)).get_content()


def test_an_expired_link_is_refused(app: Flask, client: FlaskClient, order: Order, mailbox: Mailbox) -> None:
    with clock.freeze(datetime.now(UTC)):
        ask_for_link(client)
        send_guest_link(only_link().id)
        path = link_path(mailbox.wait_for(1)[0])
        browser = app.test_client()

        clock.advance(timedelta(minutes=29))
        confirm = browser.get(path)
        assert confirm.status_code == 200

        clock.advance(timedelta(minutes=2))
        assert browser.get(path).status_code == 410
        refused = browser.post(path, data={"csrf_token": csrf_token(confirm.get_data(as_text=True))})

    assert refused.status_code == 410
    assert INVALID in refused.get_data(as_text=True)
    assert granted_order_ids(browser) == frozenset()
    assert only_link().used_at is None


def test_a_link_that_expired_before_the_job_ran_is_not_sent(
    client: FlaskClient, order: Order, mailbox: Mailbox
) -> None:
    with clock.freeze(datetime.now(UTC)):
        ask_for_link(client)
        clock.advance(timedelta(minutes=31))
        assert send_guest_link(only_link().id) is False

    assert mailbox.wait_for(1, timeout=0.5) == []
    assert only_link().token_hash is None


def test_unknown_and_malformed_tokens_get_the_friendly_page(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client.get("/track").get_data(as_text=True))
    for bad in ("nope", "x" * 500, "%00", "..%2F..%2Fetc"):
        assert client.get(f"/track/link/{bad}").status_code in (404, 410)
        response = client.post(f"/track/link/{bad}", data={"csrf_token": token})
        assert response.status_code in (404, 410)
    assert INVALID in client.get("/track/link/nope").get_data(as_text=True)


def test_using_a_link_needs_the_csrf_token(
    app: Flask, client: FlaskClient, order: Order, mailbox: Mailbox
) -> None:
    ask_for_link(client)
    send_guest_link(only_link().id)
    path = link_path(mailbox.wait_for(1)[0])

    assert client.post(path).status_code == 400
    assert only_link().used_at is None


def test_a_link_asked_for_while_redis_is_down_is_sent_once_it_is_back(
    client: FlaskClient, order: Order, mailbox: Mailbox, run_worker: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(name: str = "default") -> Any:
        raise redis.ConnectionError("Redis is down (test)")

    with monkeypatch.context() as patched:
        patched.setattr(portal.queue, "get_queue", unreachable)
        assert ask_for_link(client).status_code == 200  # the row is written; its job is lost
    link = only_link()
    assert get_queue("messages").count == 0

    def sweep_at(moment: datetime) -> int:
        with clock.freeze(moment):
            return sweep_guest_links()

    assert sweep_at(link.created_at + timedelta(seconds=5)) == 0  # its job may still be on the way
    assert sweep_at(link.created_at + timedelta(seconds=31)) == 1
    assert sweep_at(link.created_at + timedelta(seconds=32)) == 0  # waiting in the queue: not twice
    assert run_worker("messages").returncode == 0
    [message] = mailbox.wait_for(1)
    assert "DS-1001" in message["Subject"]
    assert only_link().sent_at is not None
    assert sweep_at(link.created_at + timedelta(minutes=2)) == 0  # sent: nothing left to do
    assert sweep_at(link.expires_at + timedelta(seconds=1)) == 0


def test_the_sweeper_leaves_alone_a_link_whose_job_failed_for_good(
    client: FlaskClient, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ask_for_link(client).status_code == 200
    link = only_link()
    job = get_queue("messages").fetch_job(f"guest-link-{link.id}")
    assert job is not None
    job.set_status(JobStatus.FAILED)  # RQ keeps a failed job (and its id) in its failed registry
    with clock.freeze(link.created_at + timedelta(minutes=1)):
        assert sweep_guest_links() == 0
    job.delete()  # forgotten by Redis (e.g. lost with it): queued again
    with clock.freeze(link.created_at + timedelta(minutes=1)):
        assert sweep_guest_links() == 1
