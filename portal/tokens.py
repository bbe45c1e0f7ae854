"""Secrets sent in links and headers (guest links, survey links, API tokens): only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What is stored for a token: its SHA-256 (enough for a random 256-bit secret; no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
