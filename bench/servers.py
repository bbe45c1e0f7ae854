"""Processes of a run: gunicorn servers (same settings for every app), wrk, RSS of a process tree."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.environment import DATA_DIR, GUNICORN_ARGS, ROOT

VENV_BIN = Path(os.environ.get("BENCH_VENV_BIN", str(ROOT / ".venv" / "bin")))
WRK = os.environ.get("BENCH_WRK", "/usr/bin/wrk")
WRK_DIR = ROOT / "bench" / "wrk"
LOG_DIR = DATA_DIR / "logs"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One gunicorn master with its workers, started with the shared settings."""

    def __init__(self, name: str, target: str, env: dict[str, str], ready_path: str):
        self.name = name
        self.port = free_port()
        self.ready_path = ready_path
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / f"{name}.log"
        self.log = self.log_path.open("wb")
        command = [str(VENV_BIN / "gunicorn"), *GUNICORN_ARGS, "--bind", f"127.0.0.1:{self.port}", target]
        self.process = subprocess.Popen(  # noqa: S603 - fixed command
            command, cwd=ROOT, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                status, _ = get(self.port, self.ready_path)
                if status < 500:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} did not answer within {timeout:.0f} s; see {self.log_path}")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid)

    def worker_rss_kb(self) -> list[int]:
        return [rss_kb(pid) for pid in self.worker_pids()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_drained(port: int, path: str, limit: float = 90) -> float:
    """Wait until the server answers `path` within a second again: requests wrk left queued (slow pages at 32
    connections) must not be counted against the next scenario. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        asked = time.monotonic()
        with contextlib.suppress(OSError):
            get(port, path)
        if time.monotonic() - asked < 1.0:
            break
    return time.monotonic() - started


def cpu_busy(interval: float = 0.5) -> float:
    """The machine's busy share of all CPUs over `interval` seconds (0.0-1.0), from /proc/stat."""

    def sample() -> tuple[int, int]:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields), idle

    total_before, idle_before = sample()
    time.sleep(interval)
    total_after, idle_after = sample()
    total = total_after - total_before
    return 1.0 - (idle_after - idle_before) / total if total else 0.0


def wait_quiet(limit: float = 15, busy_below: float = 0.2) -> float:
    """Wait until the machine is mostly idle (what the last scenario left running, PostgreSQL's autovacuum
    after a bulk update, a SQLite checkpoint), so a scenario is not measured while the previous one's work
    finishes. Gives up after `limit` seconds: on a machine that is never quiet the run goes on, and the wait
    is reported. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if cpu_busy() < busy_below:
            break
    return time.monotonic() - started


def children(pid: int) -> list[int]:
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class WrkResult:
    connections: int
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    unexpected: int
    socket_errors: int
    raw: str

    def as_dict(self) -> dict[str, float | int]:
        return {
            "connections": self.connections,
            "requests": self.requests,
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "unexpected_status": self.unexpected,
            "socket_errors": self.socket_errors,
        }


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    base: str, path: str, script: str, data_file: Path, connections: int, seconds: int, threads: int = 2
) -> WrkResult:
    """wrk with a Lua script from bench/wrk and its data file; the URL path is only the first request's."""
    command = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(WRK_DIR / script),
        base + path,
        "--",
        str(data_file),
    ]
    completed = subprocess.run(  # noqa: S603 - fixed command
        command, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    out = completed.stdout + completed.stderr
    if completed.returncode != 0 and "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out[-2000:]}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    requests = int(total.group(1)) if total else 0
    p50 = re.search(r"50%\s+(\S+)", out)
    p99 = re.search(r"99%\s+(\S+)", out)
    unexpected = re.search(r"BENCH_UNEXPECTED (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return WrkResult(
        connections=connections,
        requests=requests,
        seconds=seconds,
        rps=rps,
        p50_ms=_ms(p50.group(1)) if p50 else float("nan"),
        p99_ms=_ms(p99.group(1)) if p99 else float("nan"),
        unexpected=int(unexpected.group(1)) if unexpected else -1,
        socket_errors=sum(int(x) for x in socket.groups()) if socket else 0,
        raw=out,
    )


def drive(port: int, lines: list[tuple[str, str]], count: int, threads: int = 4) -> int:
    """Send `count` GETs over keep-alive connections (for the memory figures); returns how many were 200."""
    import threading

    ok = [0] * threads

    def work(slot: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for index in range(slot, count, threads):
            path, cookie = lines[index % len(lines)]
            connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
            response = connection.getresponse()
            response.read()
            ok[slot] += response.status == 200
        connection.close()

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sum(ok)
