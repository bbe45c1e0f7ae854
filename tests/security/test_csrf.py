"""CSRF: every form and htmx request found on any page, and every other unsafe route, replayed without its
token is refused with 400 and changes nothing. The exemptions are few, named and explained below."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from portal.extensions import csrf
from tests.conftest import csrf_token
from tests.security.conftest import World, become, build_url, page_routes
from tests.security.forms import Form, forms_on
from tests.security.snapshots import database_snapshot

CSRF_MESSAGE = "This form has expired or was sent from elsewhere"

# endpoint (or "blueprint:<name>") -> why it takes unsafe requests without a CSRF token.
CSRF_EXEMPT = {
    "blueprint:api": "the JSON API: bearer token in the Authorization header, never reads cookies",
    "messaging.inbound_sms": "the SMS provider's webhook: a bearer secret (SMS_INBOUND_SECRET), no cookies",
    "messaging.unsubscribe": (
        "RFC 8058 one-click unsubscribe: mail providers POST without cookies or token; the signed link "
        "is the authority and the only effect is opting out of follow-up e-mails"
    ),
    "main.healthz": "GET only (JSON for the load balancer)",
}

WALKING_VIEWERS = ("anonymous", "owner", "guest_with_grant", "admin")


def exempt_endpoints(app: Flask) -> set[str]:
    exempt = {f"blueprint:{bp.name}" for bp in csrf._exempt_blueprints}
    for endpoint, view in app.view_functions.items():
        if f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            exempt.add(endpoint)
    return exempt


def test_only_the_documented_routes_are_exempt(app: Flask) -> None:
    assert exempt_endpoints(app) == set(CSRF_EXEMPT)


def endpoint_of(app: Flask, form: Form) -> str:
    endpoint, _args = app.url_map.bind("portal.test").match(form.action.split("?")[0], method=form.method)
    return str(endpoint)


def is_exempt(app: Flask, form: Form) -> bool:
    endpoint = endpoint_of(app, form)
    return endpoint in CSRF_EXEMPT or f"blueprint:{endpoint.split('.')[0]}" in CSRF_EXEMPT


def discover_forms(app: Flask, client: FlaskClient, world: World, viewer: str) -> list[Form]:
    """Every distinct unsafe form on every GET page `viewer` can open."""
    found: dict[Any, Form] = {}
    for rule in page_routes(app):
        url, _complete = build_url(app, rule, world, viewer)
        become(client, viewer, world)
        response = client.get(url, buffered=True)
        if response.mimetype == "text/html" and response.status_code == 200:
            for form in forms_on(url, response.get_data(as_text=True)):
                found.setdefault(form.key, form)
        for htmx_form in _htmx_forms(client, url):
            found.setdefault(htmx_form.key, htmx_form)
    return list(found.values())


def _htmx_forms(client: FlaskClient, url: str) -> list[Form]:
    response = client.get(url, headers={"HX-Request": "true"}, buffered=True)
    if response.mimetype != "text/html" or response.status_code != 200:
        return []
    return forms_on(url, response.get_data(as_text=True))


def send(client: FlaskClient, form: Form, data: dict[str, str], *, token: str | None = None) -> Any:
    headers = {"HX-Request": "true"} if form.htmx else {}
    if token:
        headers["X-CSRFToken"] = token
    return client.open(form.action, method=form.method, data=data, headers=headers, buffered=True)


@pytest.mark.parametrize("viewer", WALKING_VIEWERS)
def test_every_form_without_its_token_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, world: World, viewer: str
) -> None:
    forms = discover_forms(app, client, world, viewer)
    assert forms, "no forms found"
    forms = [form for form in forms if not is_exempt(app, form)]
    refused = []
    before = database_snapshot()
    for form in forms:
        become(client, viewer, world)
        data = {name: value for name, value in form.defaults().items() if name != "csrf_token"}
        response = send(client, form, data)
        assert response.status_code == 400, (viewer, form.action, response.status_code)
        assert CSRF_MESSAGE in response.get_data(as_text=True)
        # A token from another session is refused too.
        foreign = csrf_token(app.test_client().get("/track").get_data(as_text=True))
        assert send(client, form, {**data, "csrf_token": foreign}).status_code == 400, form.action
        refused.append(form.action)
    assert database_snapshot() == before, "a request without a CSRF token changed the database"
    # The forms are real: with this session's token the same requests get past the CSRF check.
    for form in forms:
        become(client, viewer, world)
        token = csrf_token(client.get(form.page).get_data(as_text=True))
        response = send(client, form, {**form.defaults(), "csrf_token": token}, token=token)
        assert CSRF_MESSAGE not in response.get_data(as_text=True), (viewer, form.action)
        world.refresh()
    assert len(refused) == len(forms)


def test_every_unsafe_route_refuses_a_request_without_a_token(
    app: Flask, client: FlaskClient, world: World
) -> None:
    """Also the routes no page links a form to (a crafted request needs no form to aim at)."""
    exempt = set(CSRF_EXEMPT)
    checked = []
    before = database_snapshot()
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for rule in page_routes(app, method):
            if rule.endpoint in exempt or f"blueprint:{rule.endpoint.split('.')[0]}" in exempt:
                continue
            url, _complete = build_url(app, rule, world)
            for viewer in ("anonymous", "owner", "admin"):
                become(client, viewer, world)
                for headers in ({}, {"HX-Request": "true"}):
                    response = client.open(
                        url, method=method, data={"x": "1"}, headers=headers, buffered=True
                    )
                    assert response.status_code == 400, (method, url, viewer, response.status_code)
            checked.append(f"{method} {rule.rule}")
    assert database_snapshot() == before, "a request without a CSRF token changed the database"
    assert len(checked) >= 10, checked
