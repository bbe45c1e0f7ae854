"""Enumeration: sign-in, registration, password reset and guest lookup answer the same, in the same time (by
median over many interleaved tries, with the production password hashing), whether or not the account or the
order exists."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal import create_app
from portal.accounts.service import create_user
from portal.extensions import db
from tests.conftest import IsolatedClient, csrf_token
from tests.factories import order_body

PASSWORD = "correct horse battery staple"
TRIES = 31
# "Within a few milliseconds": the medians may differ by this much at most.
TOLERANCE_SECONDS = 0.005
ROUNDS = 3
HIGH = "100000 per hour"


@pytest.fixture(autouse=True)
def _cheaper_but_equal_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at a lower cost for real hashes and for the dummy hash a miss is checked against alike, so each
    try takes milliseconds on a busy CI machine and what is compared is the work each path does."""
    from argon2 import PasswordHasher

    from portal.accounts import service

    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    monkeypatch.setattr(service, "_hasher", hasher)
    monkeypatch.setattr(service, "_DUMMY_HASH", hasher.hash("not-a-real-password-used-for-timing"))


@pytest.fixture
def open_app(app: Flask, app_config: dict[str, Any]) -> Iterator[Flask]:
    """The portal with limits out of the way: these tests repeat each request many times from one address."""
    limits = {name: HIGH for name, value in app.config.items() if isinstance(value, str) and " per " in value}
    other = create_app({**app_config, **limits})
    other.test_client_class = IsolatedClient
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def normalised(body: str, *typed: str) -> str:
    """A page without what legitimately differs: CSRF tokens, CSP nonces, request ids and the typed values."""
    body = re.sub(r'name="csrf_token"([^>]*)value="[^"]*"', r'name="csrf_token"\1value=""', body)
    body = re.sub(r'"X-CSRFToken": "[^"]*"', '"X-CSRFToken": ""', body)
    body = re.sub(r'nonce="[^"]*"', 'nonce=""', body)
    for value in typed:
        body = body.replace(value, "<typed>")
    return body


def post(client: FlaskClient, path: str, data: dict[str, str]) -> tuple[Any, float]:
    token = csrf_token(client.get(path).get_data(as_text=True))
    started = time.perf_counter()
    response = client.post(path, data={"csrf_token": token, **data})
    return response, time.perf_counter() - started


def compare(
    attempt: Callable[[bool, int], tuple[Any, float, tuple[str, ...]]], tries: int = TRIES
) -> tuple[float, float]:
    """Run `attempt(exists, i)` TRIES times each way, interleaved; check the answers are identical and the
    median times within TOLERANCE_SECONDS. The machine is shared: a round spoilt by another process's burst
    is measured again (at most ROUNDS times); a real difference shows in every round."""
    rounds = []
    for round_number in range(ROUNDS):
        existing, missing = _one_round(attempt, tries, offset=round_number * tries)
        rounds.append((f"{existing * 1000:.1f} ms", f"{missing * 1000:.1f} ms"))
        if abs(existing - missing) <= TOLERANCE_SECONDS:
            return existing, missing
    raise AssertionError(
        f"median times (existing, missing) differ by more than {TOLERANCE_SECONDS}s: {rounds}"
    )


def _one_round(
    attempt: Callable[[bool, int], tuple[Any, float, tuple[str, ...]]], tries: int, offset: int
) -> tuple[float, float]:
    timings: dict[bool, list[float]] = {True: [], False: []}
    answers: dict[bool, set[tuple[int, str | None, str]]] = {True: set(), False: set()}
    attempt(True, -1 - offset)  # warm up both paths (templates, connections)
    attempt(False, -1 - offset)
    for i in range(offset, offset + tries):
        for exists in (i % 2 == 0, i % 2 != 0):
            response, seconds, typed = attempt(exists, i)
            timings[exists].append(seconds)
            location = response.headers.get("Location")
            answers[exists].add(
                (response.status_code, location, normalised(response.get_data(as_text=True), *typed))
            )
    assert len(answers[True]) == 1 and answers[True] == answers[False], "the answers differ"
    return statistics.median(timings[True]), statistics.median(timings[False])


@pytest.fixture
def account(app: Flask) -> None:
    create_user("sam@example.com", PASSWORD, "shopper", "Sam", verified=True)
    db.session.commit()


def test_sign_in_with_a_wrong_password_or_an_unknown_address(open_app: Flask, account: None) -> None:
    client = open_app.test_client()

    def attempt(exists: bool, i: int) -> tuple[Any, float, tuple[str, ...]]:
        email = "sam@example.com" if exists else "nobody@example.com"
        response, seconds = post(client, "/login", {"email": email, "password": "wrong password here"})
        assert response.status_code == 422
        return response, seconds, (email,)

    compare(attempt)


def test_registration_with_a_new_or_a_taken_address(open_app: Flask, account: None) -> None:
    client = open_app.test_client()

    def attempt(exists: bool, i: int) -> tuple[Any, float, tuple[str, ...]]:
        email = "sam@example.com" if exists else f"new{i + 1}@example.com"
        data = {"name": "Sam", "email": email, "password": "purple tractor umbrella sonnet"}
        response, seconds = post(client, "/register", {**data, "confirm": data["password"]})
        assert response.status_code == 303
        assert seconds >= open_app.config["REGISTER_MIN_RESPONSE_MS"] / 1000
        return response, seconds, (email,)

    # A new address writes an account and a taken one does not, which SQLite's commit shows plainly (some
    # 20 ms here); the view pads both to REGISTER_MIN_RESPONSE_MS. Fewer tries: padded times vary little.
    compare(attempt, tries=11)


def test_password_reset_for_a_known_or_an_unknown_address(open_app: Flask, account: None) -> None:
    client = open_app.test_client()

    def attempt(exists: bool, i: int) -> tuple[Any, float, tuple[str, ...]]:
        email = "sam@example.com" if exists else "nobody@example.com"
        response, seconds = post(client, "/password/forgot", {"email": email})
        assert response.status_code == 303
        return response, seconds, (email,)

    compare(attempt)


def test_guest_lookup_of_an_existing_or_a_missing_order(open_app: Flask, api: Any) -> None:
    assert api.put("/orders/DS-1001", json=order_body(email="ada@example.com")).status_code == 201
    client = open_app.test_client()

    def attempt(exists: bool, i: int) -> tuple[Any, float, tuple[str, ...]]:
        number = "DS-1001" if exists else "DS-4040"
        response, seconds = post(client, "/track", {"order_number": number, "email": "eve@example.com"})
        assert response.status_code == 200
        return response, seconds, (number,)

    compare(attempt)
