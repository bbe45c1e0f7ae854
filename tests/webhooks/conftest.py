"""A real HTTP server on loopback as the shop's webhook endpoint; signatures checked as the shop would."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask

SECRET = "whsec-test-0123456789"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Records every POST; answers with the planned statuses in turn (then 200), after `delay` seconds."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: deque[int] = field(default_factory=deque)
    delay: float = 0.0

    def wait_for(self, count: int, timeout: float = 10) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


def verify(received: Received, secret: str = SECRET, tolerance: float = 300) -> bool:
    """What the shop does: recompute the HMAC of "<t>.<body>" and compare in constant time."""
    parts = dict(part.split("=", 1) for part in received.headers["Doorstep-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), f"{parts['t']}.".encode() + received.body, hashlib.sha256
    ).hexdigest()
    fresh = abs(time.time() - int(parts["t"])) <= tolerance
    return fresh and hmac.compare_digest(expected, parts["v1"])


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.received.append(Received(self.path, dict(self.headers.items()), body))
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.answers.popleft() if receiver.answers else 200
            answer = b"ok" if status < 400 else b"upstream trouble"
            try:
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (timeout tests)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver(app: Flask) -> Iterator[Receiver]:
    """The shop's endpoint, configured as SHOP_WEBHOOK_URL (with SHOP_WEBHOOK_SECRET) for this test."""
    state = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hooks/doorstep"
    saved = {name: app.config.get(name) for name in ("SHOP_WEBHOOK_URL", "SHOP_WEBHOOK_SECRET")}
    app.config.update(SHOP_WEBHOOK_URL=state.url, SHOP_WEBHOOK_SECRET=SECRET)
    try:
        yield state
    finally:
        app.config.update(saved)
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
