"""Every registered GET page, as every kind of viewer, full page and htmx block: the security headers are
there, and no page carries markup the CSP would block (inline scripts, style or event handler attributes).
Walking them all changes nothing in the database: no GET changes state."""

from __future__ import annotations

import re
from typing import Any

import pytest
from bs4 import BeautifulSoup
from flask import Flask
from flask.testing import FlaskClient

from tests.security.conftest import PLACEHOLDER_ROUTES, VIEWERS, World, become, build_url, page_routes
from tests.security.snapshots import database_snapshot

CSP_NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'")


def header_problems(response: Any, *, secret_url: bool) -> list[str]:
    """What is wrong with the security headers of one response (empty when nothing)."""
    problems = []
    headers = response.headers
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append("no X-Content-Type-Options: nosniff")
    expected_referrer = "no-referrer" if secret_url else "same-origin"
    if headers.get("Referrer-Policy") != expected_referrer:
        problems.append(f"Referrer-Policy {headers.get('Referrer-Policy')!r}, not {expected_referrer!r}")
    if "Strict-Transport-Security" in headers:
        problems.append("HSTS outside production")
    if response.mimetype != "text/html":
        return problems
    csp = headers.get("Content-Security-Policy", "")
    for needed in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        if needed not in csp:
            problems.append(f"CSP lacks {needed}")
    for banned in ("unsafe-inline", "unsafe-eval", "*"):
        if banned in csp:
            problems.append(f"CSP allows {banned}")
    nonce = CSP_NONCE.search(csp)
    if not nonce:
        problems.append("CSP has no script nonce")
    if headers.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control {headers.get('Cache-Control')!r}, not no-store")
    html = BeautifulSoup(response.get_data(as_text=True), "html.parser")
    for script in html.find_all("script"):
        if not script.get("src") and (not nonce or script.get("nonce") != nonce.group(1)):
            problems.append("inline <script> without this response's nonce")
    for style in html.find_all("style"):
        if not nonce or style.get("nonce") != nonce.group(1):
            problems.append("<style> without this response's nonce")
    for element in html.find_all(True):
        if "style" in element.attrs:
            problems.append(f"style attribute on <{element.name}>")
        handlers = [name for name in element.attrs if name.lower().startswith("on")]
        if handlers:
            problems.append(f"event handler attribute {handlers} on <{element.name}>")
        for name in ("href", "src", "action", "formaction"):
            if str(element.get(name, "")).strip().lower().startswith("javascript:"):
                problems.append(f"javascript: URL in <{element.name} {name}>")
    return problems


@pytest.mark.parametrize("viewer", VIEWERS)
def test_every_get_route_sends_the_security_headers(
    app: Flask, client: FlaskClient, world: World, viewer: str
) -> None:
    become(client, viewer, world)
    before = database_snapshot()
    failures: dict[str, list[str]] = {}
    walked = 0
    statuses: dict[str, int] = {}
    for rule in page_routes(app):
        url, _complete = build_url(app, rule, world, viewer)
        for htmx in (False, True):
            # buffered: a streamed body (the CSV export) is read inside its request, as a server does.
            response = client.get(url, headers={"HX-Request": "true"} if htmx else {}, buffered=True)
            walked += 1
            problems = header_problems(response, secret_url="token" in rule.arguments)
            if response.status_code >= 500:
                problems.append(f"status {response.status_code}")
            statuses[f"{url} {'htmx' if htmx else 'page'}"] = response.status_code
            if problems:
                failures[f"{url} {'htmx' if htmx else 'page'} -> {response.status_code}"] = problems
            become(client, viewer, world)  # a page may have signed the viewer out or changed the session
    assert not failures, failures
    assert walked >= 2 * len(page_routes(app))
    # The walk reached real pages, not only sign-in redirects and 404s.
    if viewer in ("owner", "guest_with_grant", "admin"):
        # The back-office answers 404 to everyone but staff: its pages count for staff only.
        counted = [
            status for key, status in statuses.items() if viewer == "admin" or "/backoffice" not in key
        ]
        assert sum(status == 200 for status in counted) >= len(counted) // 2, statuses
    assert database_snapshot() == before, "a GET changed the database"


def test_every_route_is_walked(app: Flask, world: World) -> None:
    """A route whose URL the walkers cannot build must be named, with the reason, in PLACEHOLDER_ROUTES."""
    unbuilt = {rule.endpoint for rule in page_routes(app) if not build_url(app, rule, world)[1]}
    unbuilt |= {rule.endpoint for rule in page_routes(app, "POST") if not build_url(app, rule, world)[1]}
    assert unbuilt == set(PLACEHOLDER_ROUTES), (
        "routes with URL parameters the security walkers cannot build: add a builder to "
        "tests/security/conftest.py or list them with a reason in PLACEHOLDER_ROUTES",
        sorted(unbuilt ^ set(PLACEHOLDER_ROUTES)),
    )


def test_token_pages_send_no_referrer(client: FlaskClient, world: World) -> None:
    response = client.get(f"/password/reset/{world.tokens['/password/reset/<token>']}")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"


def test_hsts_only_in_production_over_https(app: Flask, app_config: dict[str, Any]) -> None:
    from portal import create_app

    production = create_app({**app_config, "PORTAL_ENV": "production"})
    secure = production.test_client().get("/", base_url="https://portal.test")
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert (
        "Strict-Transport-Security"
        not in production.test_client().get("/", base_url="http://portal.test").headers
    )


def test_each_response_gets_its_own_nonce(client: FlaskClient) -> None:
    nonces = {CSP_NONCE.search(client.get("/").headers["Content-Security-Policy"]).group(1) for _ in range(5)}
    assert len(nonces) == 5
