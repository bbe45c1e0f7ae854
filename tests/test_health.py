"""The health check reports the database and Redis, and says 503 when one is down."""

from __future__ import annotations

from typing import Any

from portal import create_app


def test_healthy(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_redis_down_gives_503(app: Any, app_config: dict[str, Any]) -> None:
    # The limiter is one object shared by every app: keep it on the working Redis for the later tests.
    working_limiter = app.config["RATELIMIT_STORAGE_URI"]
    broken = create_app(
        {**app_config, "REDIS_URL": "redis://127.0.0.1:1/0", "RATELIMIT_STORAGE_URI": working_limiter}
    )
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "ok", "redis": "unreachable"}


def test_database_down_gives_503(app_config: dict[str, Any], tmp_path: Any) -> None:
    broken = create_app({**app_config, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == "unreachable"


def test_every_response_carries_a_request_id(client: Any) -> None:
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    assert client.get("/", headers={"X-Request-ID": "lb-1234"}).headers["X-Request-ID"] == "lb-1234"
    assert client.get("/", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"] != "bad id!"
