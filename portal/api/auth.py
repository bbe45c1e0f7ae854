"""Bearer tokens for API clients: shown once at creation, stored only as a hash."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request
from sqlalchemy import select

from portal import clock
from portal.accounts.models import ApiClient
from portal.audit import Actor
from portal.errors import Conflict, DomainError
from portal.extensions import db
from portal.tokens import hash_token

TOKEN_PREFIX = "dst_"  # noqa: S105 - a public prefix that makes leaked tokens easy to spot
F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


def create_api_client(name: str) -> tuple[ApiClient, str]:
    """Create a client and return it with its token, which is not stored and cannot be shown again.

    Raises Conflict if the name is taken.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise DomainError("The client name must be 1–100 characters.", code="invalid_name")
    if db.session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise Conflict(f"An API client named {name!r} exists already.", code="name_taken")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(name=name, token_hash=hash_token(token), token_prefix=token[:12])
    db.session.add(client)
    db.session.flush()
    return client, token


def authenticate(header: str | None) -> ApiClient:
    """The active client whose token is in an `Authorization: Bearer` header. Raises Unauthorized."""
    if not header or not header.startswith("Bearer "):
        raise Unauthorized("Send an API token as 'Authorization: Bearer <token>'.")
    token = header[len("Bearer ") :].strip()
    client = db.session.scalar(select(ApiClient).where(ApiClient.token_hash == hash_token(token)))
    if client is None or client.revoked_at is not None:
        raise Unauthorized("The API token is not valid.")
    now = clock.now()
    # Record use at most every few minutes: a write per request would cost more than the request.
    if client.last_used_at is None or now - client.last_used_at > timedelta(minutes=5):
        client.last_used_at = now
    return client


def require_client(view: F) -> F:
    """Authenticate the request's bearer token and pass the acting client to the view as `actor`."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        client = authenticate(request.headers.get("Authorization"))
        g.api_client_id = client.id
        return view(*args, actor=Actor.api_client(client.id, client.name), **kwargs)

    return cast(F, wrapper)
