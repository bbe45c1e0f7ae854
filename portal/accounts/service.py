"""Account operations: creating users and checking passwords."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from portal import clock
from portal.accounts.models import ROLES, User
from portal.errors import Conflict, Invalid
from portal.extensions import db

# argon2id with the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes.
_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True if `password` matches; a missing hash still costs one hash so timing does not tell."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    email: str, password: str, role: str = "shopper", name: str = "", *, verified: bool = False
) -> User:
    """Create a user. Raises Invalid for a bad role or password length, Conflict if the e-mail is taken."""
    email = normalise_email(email)
    if role not in ROLES:
        raise Invalid(f"Role must be one of {', '.join(ROLES)}.", fields={"role": "Unknown role."})
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise Invalid(
            "Password length is out of range.",
            fields={"password": f"Use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."},
        )
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this e-mail exists already.", code="email_taken")
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=role,
        name=name,
        email_verified_at=clock.now() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    return user
