"""Hypothesis drives every form found on the pages (as each kind of viewer) with generated input: never a 500,
every refusal a documented 4xx, and no markup sent in comes back unescaped.

CI runs a bounded, seeded profile (FUZZ_FORM_EXAMPLES, default 500 per form); raise it for a longer run:
FUZZ_FORM_EXAMPLES=5000 pytest tests/security/test_fuzz_forms.py
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from portal import create_app
from portal.extensions import db
from tests.conftest import IsolatedClient
from tests.security.conftest import World, build_world
from tests.security.forms import Field, Form
from tests.security.test_csrf import discover_forms, endpoint_of, is_exempt

EXAMPLES = int(os.environ.get("FUZZ_FORM_EXAMPLES", "500"))
# The answers a form may give to bad input (each has its page; see portal/errors_pages.py).
DOCUMENTED_STATUSES = {200, 303, 302, 400, 403, 404, 405, 409, 410, 413, 422, 429}
MARKER = "<fz-marker>"
PAYLOADS = [
    MARKER,
    f'"><script>alert(1)</script>{MARKER}',
    f"' onmouseover='alert(1)' {MARKER}",
    "javascript:alert(1)",
    "\x00",
    "\u202e\u0000\ud7ff",
    "A" * 5000,
    "-1",
    "1e309",
    "NaN",
    "9" * 40,
    "2026-02-30",
    "../../etc/passwd",
    "//evil.example/",
    "Robert'); DROP TABLE users;--",
    "%00%0d%0aSet-Cookie: x=1",
    "😀" * 50,
]
RAW_CSRF = "f" * 40
VIEWERS = ("anonymous", "owner", "guest_with_grant", "admin")


@pytest.fixture
def open_app(app: Flask, app_config: dict[str, Any]) -> Any:
    """Limits out of the way: a 429 is a fine answer, but it would keep the fuzzing from the forms."""
    limits = {
        name: "1000000 per hour"
        for name, value in app.config.items()
        if isinstance(value, str) and " per " in value
    }
    built = create_app({**app_config, **limits, "REGISTER_MIN_RESPONSE_MS": 0})
    built.test_client_class = IsolatedClient
    yield built
    with built.app_context():
        db.session.remove()
        db.engine.dispose()


def value_for(item: Field) -> st.SearchStrategy[str | None]:
    """The field's own value and options, generated text and known-nasty payloads, or nothing at all."""
    own = [item.value, *item.options]
    choices: list[st.SearchStrategy[str | None]] = [
        st.sampled_from(own),
        st.text(max_size=(item.maxlength or 200) + 20),
        st.sampled_from(PAYLOADS),
        st.integers(min_value=-(10**12), max_value=10**12).map(str),
        st.none(),
    ]
    return st.one_of(*choices)


def form_data(form: Form) -> st.SearchStrategy[dict[str, str | None]]:
    """The form's own fields, plus now and then fields it does not have (a crafted request may add any)."""
    names = sorted({item.name for item in form.fields if item.name != "csrf_token"})
    by_name = {item.name: item for item in form.fields}
    known = st.fixed_dictionaries({name: value_for(by_name[name]) for name in names})
    extra = st.dictionaries(
        st.text(min_size=1, max_size=20).filter(lambda name: name != "csrf_token"),
        st.one_of(st.text(max_size=50), st.sampled_from(PAYLOADS)),
        max_size=2,
    )
    return st.builds(lambda given, added: {**added, **given}, known, extra)


def sign_session(client: FlaskClient, viewer: str, world: World) -> None:
    from tests.security.conftest import become

    become(client, viewer, world)
    with client.session_transaction() as session:
        session["csrf_token"] = RAW_CSRF


def check_answer(form: Form, data: dict[str, Any], response: Any) -> None:
    status = response.status_code
    where = (form.method, form.action, data)
    assert status < 500, where
    assert status in DOCUMENTED_STATUSES, (status, *where)
    if response.mimetype == "text/html":
        body = response.get_data(as_text=True)
        assert MARKER not in body, ("markup reflected unescaped", *where)
        assert "<script>alert(1)" not in body, ("script reflected", *where)


@pytest.mark.slow
def test_every_form_survives_generated_input(open_app: Flask, api: Any, cheap_hashing: None) -> None:
    world = build_world(api)
    client = open_app.test_client()
    with open_app.test_request_context():
        token = URLSafeTimedSerializer(open_app.secret_key, salt="wtf-csrf-token").dumps(RAW_CSRF)
    # Each form once, as the first viewer that finds it (the owner sees the most).
    targets: dict[tuple[str, str], tuple[str, Form]] = {}
    for viewer in VIEWERS:
        for form in discover_forms(open_app, client, world, viewer):
            if not is_exempt(open_app, form):
                targets.setdefault((form.method, endpoint_of(open_app, form)), (viewer, form))
    assert len(targets) >= 10, sorted(targets)
    counts: dict[str, int] = {}
    for (method, endpoint), (viewer, form) in sorted(targets.items()):
        seen = fuzz_form(client, token, world, viewer, form, signs_out=endpoint == "accounts.logout")
        counts[f"{method} {endpoint} as {viewer}"] = seen
        assert seen >= min(EXAMPLES, 100), (endpoint, seen)
    print(f"\n{len(counts)} forms, {sum(counts.values())} inputs: {counts}")


def fuzz_form(
    client: FlaskClient, token: str, world: World, viewer: str, form: Form, *, signs_out: bool
) -> int:
    """Send EXAMPLES generated inputs to one form as `viewer`; return how many were sent."""
    sign_session(client, viewer, world)
    seen = 0

    @given(data=form_data(form))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def submit(data: dict[str, str | None]) -> None:
        nonlocal seen
        sent = {name: value for name, value in data.items() if value is not None}
        headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if form.htmx else {})}
        response = client.open(
            form.action,
            method=form.method,
            data={**sent, "csrf_token": token},
            headers=headers,
            buffered=True,
        )
        check_answer(form, sent, response)
        seen += 1
        if signs_out:
            sign_session(client, viewer, world)  # signed out everywhere: sign in again for the next try

    submit()
    return seen
