"""One environment for every process of a run (in-process app, gunicorn, workers): same database, Redis and
settings, so the references and the portal are measured under the same conditions."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "bench" / "data"
SQLITE_PATH = DATA_DIR / "doorstep_bench.db"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/doorstep_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/6"
SECRET_KEY = "bench-secret-key-not-for-production-0123456789abcdef"  # noqa: S105 - local benchmark only

# The same for the hello-world app, the anchor page and the portal.
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 4
GUNICORN_ARGS = (
    "--workers",
    str(GUNICORN_WORKERS),
    "--worker-class",
    "gthread",
    "--threads",
    str(GUNICORN_THREADS),
    "--keep-alive",
    "5",
    "--backlog",
    "2048",
    "--timeout",
    "60",
)


def database_url(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{SQLITE_PATH}"
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL


def portal_environment(kind: str, mail_port: int = 2525) -> dict[str, str]:
    """The settings the portal runs with in the benchmark: production mode, raised lookup limits."""
    return {
        "PORTAL_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url(kind),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL,
        "PORTAL_INSTANCE_PATH": str(DATA_DIR / "instance"),
        "LOG_FORMAT": "json",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_port),
        "PORTAL_BASE_URL": "http://127.0.0.1:5000",
        # The limiter stays in the code; the benchmark raises its limits so that one client can drive it.
        "GUEST_LOOKUP_LIMIT_IP": "1000000 per minute",
        "GUEST_LOOKUP_LIMIT_ORDER": "1000000 per minute",
        "LOGIN_LIMIT_PER_IP": "1000000 per minute",
        "LOGIN_LIMIT_PER_EMAIL": "1000000 per minute",
        # One API client sends every ingestion batch (~1,000 a run, near the default 1,200 per minute).
        "API_LIMIT_PER_CLIENT": "1000000 per minute",
        # The worker's periodic thread must not start its own dispatches during a measurement.
        "MESSAGE_DISPATCH_INTERVAL_SECONDS": "3600",
        "PREDICTION_REFRESH_MINUTES": "100000",
    }


def ensure_postgres_database(url: str) -> None:
    """Create the benchmark's PostgreSQL database if it is missing."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database
    admin = parsed.set(database="postgres", drivername="postgresql")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
