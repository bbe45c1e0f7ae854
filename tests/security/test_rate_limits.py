"""Rate limits are shared by every app process: two real servers (gunicorn, one worker each) on one Redis,
requests alternating between them, and the limit holds for the sum. Each limited action is tried; the answer
past the limit is 429 with Retry-After, a page for forms and the JSON error for the API."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask

from portal import clock
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import ROOT, worker_env

pytestmark = pytest.mark.slow

LIMIT = 3
LIMITS = {
    "LOGIN_LIMIT_PER_IP": "1000 per hour",
    "LOGIN_LIMIT_PER_EMAIL": f"{LIMIT} per hour",
    "REGISTER_LIMIT_PER_IP": f"{LIMIT} per hour",
    "REGISTER_MIN_RESPONSE_MS": "0",
    "PASSWORD_FORGOT_LIMIT_PER_IP": "1000 per hour",
    "PASSWORD_FORGOT_LIMIT_PER_EMAIL": f"{LIMIT} per hour",
    "GUEST_LOOKUP_LIMIT_IP": "1000 per hour",
    "GUEST_LOOKUP_LIMIT_ORDER": f"{LIMIT} per hour",
    "GUEST_LINK_LIMIT_IP": f"{LIMIT} per hour",
    "GUEST_LINK_LIMIT_ORDER": "1000 per hour",
    "VERIFICATION_RESEND_LIMIT": f"{LIMIT} per hour",
    "SURVEY_ANSWER_LIMIT": f"{LIMIT} per hour",
    "API_LIMIT_PER_CLIENT": f"{LIMIT} per minute",
}
PASSWORD = "correct horse battery staple"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def servers(app: Flask, app_config: dict[str, Any]) -> Iterator[list[str]]:
    """Two gunicorn processes on the tests' database and Redis, with low limits."""
    env = {**worker_env(app_config), **LIMITS}
    started: list[tuple[subprocess.Popen[bytes], str]] = []
    for _ in range(2):
        port = _free_port()
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "wsgi:app",
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        started.append((process, f"http://127.0.0.1:{port}"))
    try:
        for process, base in started:
            _wait_until_up(process, base)
        yield [base for _process, base in started]
    finally:
        for process, _base in started:
            process.terminate()
        for process, _base in started:
            process.wait(timeout=20)


def _wait_until_up(process: subprocess.Popen[bytes], base: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "server exited")
        try:
            if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{base} did not start")


def token_of(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def form_post(browser: requests.Session, base: str, page: str, action: str, data: dict[str, str]) -> Any:
    """GET the form's page from `base`, then POST the form there (the session cookie works on both)."""
    token = token_of(browser.get(f"{base}{page}", timeout=30).text)
    return browser.post(
        f"{base}{action}", data={"csrf_token": token, **data}, allow_redirects=False, timeout=30
    )


def assert_limited_across_processes(servers: list[str], attempt: Callable[[str, int], Any]) -> None:
    """LIMIT attempts spread over both servers pass; the next one, on either server, is refused."""
    for i in range(LIMIT):
        response = attempt(servers[i % 2], i)
        assert response.status_code != 429, (i, response.status_code)
    for i, base in enumerate(servers, start=LIMIT):
        refused = attempt(base, i)
        assert refused.status_code == 429, (base, refused.status_code)
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        if "/api/" in refused.url:
            assert refused.json()["error"]["code"] == "rate_limited"
        else:
            assert "Too many attempts" in refused.text


def test_failed_sign_ins(servers: list[str]) -> None:
    create_user("sam@example.com", PASSWORD, "shopper", "Sam", verified=True)
    db.session.commit()
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        return form_post(
            browser, base, "/login", "/login", {"email": "sam@example.com", "password": "wrong!!"}
        )

    assert_limited_across_processes(servers, attempt)


def test_registrations(servers: list[str]) -> None:
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        data = {"name": "Sam", "email": f"new{i}@example.com", "password": "purple tractor umbrella sonnet"}
        return form_post(browser, base, "/register", "/register", {**data, "confirm": data["password"]})

    assert_limited_across_processes(servers, attempt)


def test_password_reset_requests(servers: list[str]) -> None:
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        return form_post(browser, base, "/password/forgot", "/password/forgot", {"email": "sam@example.com"})

    assert_limited_across_processes(servers, attempt)


def test_failed_guest_lookups(servers: list[str]) -> None:
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        return form_post(
            browser, base, "/track", "/track", {"order_number": "DS-1", "email": f"e{i}@example.com"}
        )

    assert_limited_across_processes(servers, attempt)


def test_magic_link_requests(servers: list[str]) -> None:
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        data = {"order_number": f"DS-{i}", "email": "ada@example.com"}
        return form_post(browser, base, "/track", "/track/link", data)

    assert_limited_across_processes(servers, attempt)


def test_verification_resends(servers: list[str]) -> None:
    create_user("new@example.com", PASSWORD, "shopper", "New", verified=False)
    db.session.commit()
    browser = requests.Session()
    signed_in = form_post(
        browser, servers[0], "/login", "/login", {"email": "new@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 303

    def attempt(base: str, i: int) -> Any:
        return form_post(browser, base, "/account", "/account/verification", {})

    assert_limited_across_processes(servers, attempt)


def test_survey_answers(servers: list[str], api: Any) -> None:
    from portal.orders.models import Order
    from portal.surveys.service import invite
    from tests.factories import order_body

    assert api.put("/orders/DS-9", json=order_body()).status_code == 201
    order = db.session.scalar(db.select(Order).where(Order.number == "DS-9"))
    _invitation, token = invite(order, clock.now())
    db.session.commit()
    browser = requests.Session()

    def attempt(base: str, i: int) -> Any:
        page = f"/surveys/{token}"
        return form_post(browser, base, page, page, {"nps": str(i % 11)})

    assert_limited_across_processes(servers, attempt)


def test_api_calls_per_client(servers: list[str], api_token: str) -> None:
    headers = {"Authorization": f"Bearer {api_token}"}

    def attempt(base: str, i: int) -> Any:
        return requests.get(f"{base}/api/v1/orders/DS-404", headers=headers, timeout=30)

    assert_limited_across_processes(servers, attempt)
    # Another client has its own budget.
    from portal.api.auth import create_api_client

    _client, other = create_api_client("other-shop")
    db.session.commit()
    answer = requests.get(
        f"{servers[0]}/api/v1/orders/DS-404", headers={"Authorization": f"Bearer {other}"}, timeout=30
    )
    assert answer.status_code == 404


def test_the_servers_share_one_limit_store(servers: list[str]) -> None:
    """Not two in-memory fallbacks: the limiter of each server answers from Redis."""
    assert os.environ.get("RATELIMIT_STORAGE_URI") is None
    for base in servers:
        assert requests.get(f"{base}/healthz", timeout=10).json()["checks"]["redis"] == "ok"
