"""Test fixtures: one app per session on the embedded defaults (or DATABASE_URL / REDIS_URL when set).

The schema is built by the real Alembic migrations; every test starts with empty tables and an empty Redis db.
"""

from __future__ import annotations

import contextvars
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal import create_app, embedded_redis
from portal.extensions import db

ROOT = Path(__file__).resolve().parent.parent
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def redis_url(instance_dir: Path) -> Iterator[str]:
    configured = os.environ.get("REDIS_URL")
    if configured:
        yield configured
        return
    url = embedded_redis.ensure_running(instance_dir)
    yield url
    embedded_redis.stop(instance_dir)


@pytest.fixture(scope="session")
def database_url(instance_dir: Path) -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{instance_dir / 'test.db'}"


class Mailbox:
    """Messages received by a real SMTP server (aiosmtpd) listening on loopback for the test session."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=default_policy))  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 10) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    mailbox = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


@pytest.fixture
def mailbox(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    smtp_server[0].messages.clear()
    return smtp_server[0]


@pytest.fixture(scope="session")
def app_config(
    instance_dir: Path, database_url: str, redis_url: str, smtp_server: tuple[Mailbox, int]
) -> dict[str, Any]:
    return {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": smtp_server[1],
        "PORTAL_ENV": "testing",
        "SECRET_KEY": TEST_SECRET,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "INSTANCE_PATH": str(instance_dir),
        "LOG_FORMAT": "text",
        "PORTAL_BASE_URL": "http://portal.test",
        # Tests write settings straight into the table and empty it between tests: read it every time.
        "SHOP_SETTINGS_CACHE_SECONDS": 0,
        "DASHBOARD_CACHE_SECONDS": 0,
        # Tests freeze the clock and write rows directly; tests/test_fragments.py turns the page cache on.
        "PAGE_CACHE_SECONDS": 0,
    }


@pytest.fixture(scope="session")
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        _drop_everything()
        upgrade()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _drop_everything() -> None:
    """Start from an empty database, so a run never sees a previous run's rows or schema."""
    db.drop_all()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    if "app" not in request.fixturenames:
        yield
        return
    app: Flask = request.getfixturevalue("app")
    with app.app_context():
        yield
        db.session.remove()
        tables = [table.name for table in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
            else:
                for table in tables:
                    connection.exec_driver_sql(f"DELETE FROM {table}")
        from portal.queue import redis_connection

        redis_connection().flushdb()


class IsolatedClient(FlaskClient):
    """Runs each request in a fresh context, as a real server does.

    The tests hold an app context open (for `db.session`); without this, Flask would reuse it for every
    request and `g` (the CSP nonce, Flask-Babel's locale, the loaded user) would leak between requests.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def api_token(app: Flask) -> str:
    from portal.api.auth import create_api_client

    _, token = create_api_client("test-shop")
    db.session.commit()
    return token


class ApiClient:
    """Calls the JSON API with a bearer token, the way the shop's systems do."""

    def __init__(self, client: FlaskClient, token: str):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.put(f"/api/v1{path}", json=json, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> Any:
        return self.client.post(f"/api/v1{path}", json=json, headers=self.headers, **kwargs)


@pytest.fixture
def api(client: FlaskClient, api_token: str) -> ApiClient:
    return ApiClient(client, api_token)


def csrf_token(html: str) -> str:
    """The CSRF token of a rendered page (from a hidden input or the htmx headers on <body>)."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def worker_env(app_config: dict[str, Any]) -> dict[str, str]:
    """The environment for a worker process that shares the tests' database, Redis and SMTP server."""
    return {
        **os.environ,
        "PORTAL_ENV": "testing",
        "SECRET_KEY": app_config["SECRET_KEY"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "REDIS_URL": app_config["REDIS_URL"],
        "PORTAL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "LOG_FORMAT": "text",
        "MAIL_SERVER": app_config["MAIL_SERVER"],
        "MAIL_PORT": str(app_config["MAIL_PORT"]),
        "PORTAL_BASE_URL": app_config["PORTAL_BASE_URL"],
    }


@pytest.fixture
def run_worker(app_config: dict[str, Any]) -> Any:
    """Run a real `worker.py --burst` process against the test database and Redis; return its result."""

    def run(*queues: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = worker_env(app_config)
        command = [sys.executable, str(ROOT / "worker.py"), "--burst"]
        if queues:
            command += ["--queues", *queues]
        return subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )

    return run
