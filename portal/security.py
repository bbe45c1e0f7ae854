"""Security headers on every response: a nonce-based CSP, framing and sniffing off, HSTS in production.

Every HTML page is `Cache-Control: no-store` (pages show orders, addresses and account details, and a shared
computer's back button or a proxy must not keep them). Pages whose URL carries a secret (password reset,
e-mail verification, guest magic links, unsubscribe and survey links: every route with a `<token>`) send no
Referer at all, so the secret never leaves for another page or host.
"""

from __future__ import annotations

import secrets
import time

from flask import Flask, g, request
from werkzeug.wrappers import Response


def answer_no_sooner_than(started: float, seconds: float) -> None:
    """Wait until `seconds` after `started` (a time.monotonic() reading).

    For answers whose work differs with a secret (registering a new address writes an account, a taken one
    does not): padded to a floor above both, the time taken no longer tells which it was.
    """
    remaining = started + seconds - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def csp_nonce() -> str:
    """This request's CSP nonce (for the rare <script> or <style> that needs one)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return str(g.csp_nonce)


def _url_holds_a_secret() -> bool:
    return bool(request.view_args) and "token" in (request.view_args or {})


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csp_nonce"] = csp_nonce

    @app.after_request
    def set_security_headers(response: Response) -> Response:
        headers = response.headers
        if response.mimetype == "text/html":
            nonce = csp_nonce()
            headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; "
                f"script-src 'self' 'nonce-{nonce}'; "
                f"style-src 'self' 'nonce-{nonce}'; "
                # Product images come from the shop's own https:// hosts (the API accepts nothing else).
                "img-src 'self' data: https:; "
                "connect-src 'self'; "
                "font-src 'self'; "
                "object-src 'none'; "
                "base-uri 'none'; "
                "form-action 'self'; "
                "frame-ancestors 'none'",
            )
            headers.setdefault("Cache-Control", "no-store")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "no-referrer" if _url_holds_a_secret() else "same-origin")
        if app.config["SEND_HSTS"] and request.is_secure:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        return response
