"""`make run`: migrate, load the demo shop, then run the web server and a worker until Ctrl-C.

Uses DATABASE_URL / REDIS_URL when set, otherwise SQLite and the embedded Redis under `instance/`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from portal import embedded_redis

ROOT = Path(__file__).resolve().parent.parent


def _flask(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, check=True)  # noqa: S603


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> int:
    os.environ.setdefault("PORTAL_ENV", "development")
    os.environ.setdefault("LOG_FORMAT", "text")
    port = os.environ.get("PORT", "5000")
    instance = Path(os.environ.get("PORTAL_INSTANCE_PATH") or ROOT / "instance")
    embedded = not os.environ.get("REDIS_URL")
    if embedded:
        os.environ["REDIS_URL"] = embedded_redis.ensure_running(instance)

    _flask("db", "upgrade")
    _flask("portal", "seed", "--demo")
    url = f"http://127.0.0.1:{port}"
    os.environ.setdefault("PORTAL_BASE_URL", url)
    processes = [
        subprocess.Popen(  # noqa: S603 - fixed command line
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--access-logfile",
                "-",
                "wsgi:app",
            ],
            cwd=ROOT,
        ),
        subprocess.Popen([sys.executable, str(ROOT / "worker.py")], cwd=ROOT),  # noqa: S603
    ]
    database = os.environ.get("DATABASE_URL") or "instance/portal.db"
    print(
        f"\nDoorstep is running at {url}  (database: {database}, "
        f"redis: {'embedded' if embedded else os.environ['REDIS_URL']}). Press Ctrl-C to stop.\n",
        flush=True,
    )
    try:
        while all(process.poll() is None for process in processes):
            try:
                processes[0].wait(timeout=1)
            except subprocess.TimeoutExpired:
                continue
        return 1  # one of them died on its own
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(processes)
        if embedded:
            embedded_redis.stop(instance)
        print("Stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
