"""Signed-in sessions end after a while: idle (no request for SESSION_IDLE_MINUTES) or old (SESSION_MAX_HOURS
since signing in), whichever comes first. A valid remember-me cookie then signs the browser in again on a new
session; that cookie lasts REMEMBER_ME_DAYS and dies with the account's alternative id (password change,
"sign out everywhere")."""

from __future__ import annotations

from typing import Any

from flask import current_app, session
from flask.sansio.app import App
from flask_login import user_loaded_from_cookie

from portal import clock

# Session keys: when this session was signed in, and when it was last used (unix seconds, house clock).
SIGNED_IN_AT = "_signed_in_at"
LAST_SEEN_AT = "_last_seen_at"
# Keys Flask-Login keeps for a signed-in user; the session is dropped without them.
_LOGIN_KEYS = ("_user_id", "_fresh", "_id", "_remember", "_remember_seconds")
# Writing the cookie on every request would be wasted bytes; the idle clock is kept to the minute.
_SEEN_RESOLUTION_SECONDS = 60


def _now() -> float:
    return clock.now().timestamp()


def mark_signed_in() -> None:
    """Start the clocks of a session that has just been signed in."""
    now = _now()
    session[SIGNED_IN_AT] = now
    session[LAST_SEEN_AT] = now


def session_expired(now: float) -> bool:
    signed_in_at = session.get(SIGNED_IN_AT)
    last_seen_at = session.get(LAST_SEEN_AT)
    if not isinstance(signed_in_at, int | float) or not isinstance(last_seen_at, int | float):
        return False  # a session signed in before the clocks existed starts them now (see below)
    idle = now - last_seen_at > current_app.config["SESSION_IDLE_MINUTES"] * 60
    old = now - signed_in_at > current_app.config["SESSION_MAX_HOURS"] * 3600
    return idle or old


def expire_old_session() -> None:
    """Before each request: end a signed-in session that has been idle or alive too long; keep the clocks."""
    if "_user_id" not in session:
        return
    now = _now()
    if session_expired(now):
        for key in (*_LOGIN_KEYS, SIGNED_IN_AT, LAST_SEEN_AT):
            session.pop(key, None)
        # Anything else the signed-in session collected (guest grants, CSRF token) goes with it.
        kept = {key: session[key] for key in ("locale",) if key in session}
        session.clear()
        session.update(kept)
        return
    if SIGNED_IN_AT not in session:
        mark_signed_in()
    elif now - float(session.get(LAST_SEEN_AT, 0)) >= _SEEN_RESOLUTION_SECONDS:
        session[LAST_SEEN_AT] = now


def _restored_from_cookie(sender: Any, user: Any = None, **extra: Any) -> None:
    mark_signed_in()


def init_app(app: App) -> None:
    app.before_request(expire_old_session)
    user_loaded_from_cookie.connect(_restored_from_cookie)
