"""The `flask portal …` commands."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from portal.accounts.models import ApiClient, User
from portal.accounts.service import verify_password
from portal.extensions import db
from portal.tokens import hash_token


def test_create_user(runner: Any) -> None:
    result = runner.invoke(
        args=[
            "portal",
            "create-user",
            "--email",
            "Agent@Example.com",
            "--password",
            "long-enough-secret",
            "--role",
            "agent",
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.role) == ("agent@example.com", "agent")
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "long-enough-secret")
    assert not verify_password(user.password_hash, "wrong")


def test_create_user_refuses_duplicates_and_short_passwords(runner: Any) -> None:
    args = ["portal", "create-user", "--email", "a@example.com", "--password", "long-enough-secret"]
    assert runner.invoke(args=args).exit_code == 0
    again = runner.invoke(args=["portal", "create-user", "--email", "A@EXAMPLE.COM", "--password", "x" * 10])
    assert again.exit_code != 0
    assert "exists already" in again.output
    short = runner.invoke(args=["portal", "create-user", "--email", "b@example.com", "--password", "short"])
    assert short.exit_code != 0
    assert "8 to 128" in short.output


def test_create_api_client_prints_a_working_token_once(runner: Any, client: Any) -> None:
    result = runner.invoke(args=["portal", "create-api-client", "warehouse"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    stored = db.session.scalar(select(ApiClient))
    assert stored.token_hash == hash_token(token)
    assert token not in (stored.token_hash, stored.token_prefix)
    response = client.get("/api/v1/orders/x", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated; the order does not exist
    assert runner.invoke(args=["portal", "create-api-client", "warehouse"]).exit_code != 0
