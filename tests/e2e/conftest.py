"""Browser tests: the session's test app served over real HTTP, driven by Debian's Chromium via Playwright.

Playwright never downloads a browser here: `make browsers` installs /usr/bin/chromium and the tests launch it.
Pages run with the app's Content-Security-Policy enforced; only `axe_page` bypasses it, to inject axe-core.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

E2E_DIR = Path(__file__).resolve().parent
CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = E2E_DIR / "vendor" / "axe.min.js"
ARTIFACTS = E2E_DIR / "artifacts"
DEFAULT_VIEWPORT_WIDTH = 375
VIEWPORT_HEIGHT = 800
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
# Without the background-networking flags Chromium keeps calling home, and this network refuses every attempt.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: drives a real Chromium against the live test server (tests/e2e)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    # Keep each phase's report on the item, so the page fixture can tell at teardown whether the test failed.
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


class _QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The session's test app (same database and Redis) over HTTP on loopback; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, launched once per session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browsers` (installs Debian's chromium package)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    finally:
        playwright.stop()


@dataclass
class ConsoleLog:
    """One page's console errors and uncaught exceptions; Chromium logs each CSP violation as a console error.

    A document's own error status (the 404 page) is not an error of the page: Chromium logs it as "Failed to
    load resource", but the tests assert the status themselves. A failed sub-resource (CSS, script) counts.
    """

    errors: list[str] = field(default_factory=list)
    documents: set[str] = field(default_factory=set)

    def watch(self, page: Any) -> None:
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught exception: {error}"))

    def _on_response(self, response: Any) -> None:
        if response.request.is_navigation_request():
            self.documents.add(response.url)

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if message.text.startswith("Failed to load resource") and url in self.documents:
            return
        self.errors.append(f"console error: {message.text}" + (f" ({url})" if url else ""))


def console_errors(page: Any) -> list[str]:
    """The console errors, CSP violations and uncaught exceptions a `page` or `axe_page` has logged so far."""
    return list(page.console_log.errors)


def assert_no_console_errors(page: Any) -> None:
    """Fail with every console error, CSP violation and uncaught exception the page has logged so far."""
    errors = console_errors(page)
    assert not errors, f"{len(errors)} console error(s) on {page.url}:\n" + "\n".join(
        f"  - {error}" for error in errors
    )


@pytest.fixture
def viewport_width() -> int:
    """The viewport width of `page` and `axe_page`; parametrize `viewport_width` to test other widths."""
    return DEFAULT_VIEWPORT_WIDTH


@pytest.fixture
def color_scheme() -> str:
    """The `prefers-color-scheme` of `page` and `axe_page`; parametrize `color_scheme` to test "dark"."""
    return "light"


def _open_page(
    request: pytest.FixtureRequest,
    browser: Any,
    live_server: str,
    width: int,
    color_scheme: str,
    **options: Any,
) -> Iterator[Any]:
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": width, "height": VIEWPORT_HEIGHT},
        color_scheme=color_scheme,
        locale="en-GB",
        timezone_id="Europe/London",
        **options,
    )
    context.set_default_timeout(5_000)
    page = context.new_page()
    # Kept on the page itself, so helpers need nothing but the page the test already holds.
    page.console_log = ConsoleLog()
    page.console_log.watch(page)
    try:
        yield page
        reports = request.node.stash.get(_REPORTS, {})
        if any(report.failed for report in reports.values()):
            ARTIFACTS.mkdir(exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name).strip("_")
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Any, live_server: str, viewport_width: int, color_scheme: str
) -> Iterator[Any]:
    """A fresh browser context and page, CSP enforced; saves a screenshot to artifacts/ if the test fails."""
    yield from _open_page(request, browser, live_server, viewport_width, color_scheme)


@pytest.fixture
def axe_page(
    request: pytest.FixtureRequest, browser: Any, live_server: str, viewport_width: int, color_scheme: str
) -> Iterator[Any]:
    """Like `page`, but with CSP bypassed so that axe-core can be injected: only for `check_accessibility`."""
    yield from _open_page(request, browser, live_server, viewport_width, color_scheme, bypass_csp=True)


def check_accessibility(page: Any) -> None:
    """Run axe-core (WCAG 2.x A and AA rules) on the page as it is now; fail, listing every violation."""
    if not AXE_SCRIPT.exists():
        pytest.fail(f"{AXE_SCRIPT} is missing: run `npm ci && npm run build` (or `make assets`)")
    from playwright.sync_api import Error

    try:
        page.add_script_tag(path=str(AXE_SCRIPT))
    except Error as error:
        pytest.fail(
            f"axe-core could not be injected (use the `axe_page` fixture, which bypasses CSP): {error}"
        )
    result = page.evaluate(
        "(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})"
        ".then(({violations}) => violations.map((v) => ({id: v.id, impact: v.impact, help: v.help,"
        " helpUrl: v.helpUrl,"
        " targets: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary}))})))",
        AXE_TAGS,
    )
    assert not result, f"{len(result)} accessibility violation(s) on {page.url}:\n" + "\n".join(
        _describe_violation(violation) for violation in result
    )


def _describe_violation(violation: dict[str, Any]) -> str:
    lines = [f"  - {violation['id']} ({violation['impact']}): {violation['help']} <{violation['helpUrl']}>"]
    for node in violation["targets"]:
        lines.append(f"      {json.dumps(node['target'])}")
        lines.extend(f"        {line}" for line in (node["summary"] or "").splitlines())
    return "\n".join(lines)
