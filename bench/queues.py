"""Queue scenarios: messages through the portal's worker to a local SMTP server, RQ's no-op job rate with the
same worker (`python worker.py --burst`), and labels once the returns area renders them."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bench.environment import ROOT
from bench.servers import LOG_DIR, children, free_port, rss_kb


class SmtpSink:
    """aiosmtpd on loopback that only counts what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.received = 0
        self._lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.received += 1
        return "250 OK"

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def run_burst_workers(
    env: dict[str, str], workers: int, queues: list[str], timeout: float, sample_rss: bool = False
) -> dict[str, Any]:
    """Start `workers` × `python worker.py --burst` and wait for them; optionally sample their RSS."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    processes = []
    logs = []
    for index in range(workers):
        log = (LOG_DIR / f"worker-{index}.log").open("ab")
        logs.append(log)
        processes.append(
            subprocess.Popen(  # noqa: S603 - fixed command
                [
                    sys.executable,
                    "worker.py",
                    "--burst",
                    "--queues",
                    *queues,
                    "--name",
                    f"bench-{index}-{time.time_ns()}",
                ],
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    started = time.perf_counter()
    samples: list[tuple[float, int, int]] = []  # (wall clock, worker RSS, worker + work horse RSS) in kB
    deadline = started + timeout
    timed_out = False
    while any(process.poll() is None for process in processes):
        if time.perf_counter() > deadline:
            timed_out = True
            for process in processes:
                process.kill()
            break
        if sample_rss:
            parent = sum(rss_kb(p.pid) for p in processes)
            tree = sum(worker_children_rss(p.pid) for p in processes)
            samples.append((time.time(), parent, tree))
        time.sleep(0.2)
    for process in processes:
        process.wait()
    for log in logs:
        log.close()
    return {"seconds": time.perf_counter() - started, "timed_out": timed_out, "rss_samples": samples}


def job_rate(
    connection: Any, job_ids: list[str], units: Callable[[Any], int] | None = None
) -> dict[str, Any]:
    """Jobs (or `units(job)` of work, e.g. messages sent, summed over the jobs) per second per worker from
    RQ's own timestamps: for each worker, its finished jobs over the time from its first start to its last
    end (so a worker that started later does not dilute the rate)."""
    from rq.job import Job

    jobs = [job for job in Job.fetch_many(job_ids, connection=connection) if job is not None]
    done = [job for job in jobs if job.started_at and job.ended_at]
    failed = sum(1 for job in jobs if job.get_status(refresh=False) == "failed")
    count = units or (lambda job: 1)
    by_worker: dict[str, list[Any]] = {}
    for job in done:
        by_worker.setdefault(job.worker_name or "?", []).append(job)
    rates = []
    total = 0
    for worker_jobs in by_worker.values():
        first = min(job.started_at for job in worker_jobs)
        last = max(job.ended_at for job in worker_jobs)
        done_units = sum(count(job) for job in worker_jobs)
        total += done_units
        rates.append(done_units / max((last - first).total_seconds(), 1e-6))
    per_worker = sum(rates) / len(rates) if rates else 0.0
    return {
        "jobs": len(done),
        "units": total,
        "per_worker": per_worker,
        "workers": len(rates),
        "failed": failed,
    }


def messages_sent(job: Any) -> int:
    """How many e-mails a finished send job sent (a batch job returns one outcome per message)."""
    outcome = job.return_value()
    outcomes = outcome if isinstance(outcome, list) else [outcome]
    return sum(1 for item in outcomes if item == "sent")


def finished_job_ids(connection: Any, queue_name: str = "messages") -> list[str]:
    """Every job the queue's workers finished (kept for RQ's result TTL): what the window's rate counts."""
    from rq import Queue

    return list(Queue(queue_name, connection=connection).finished_job_registry.get_job_ids())


def enqueue_noops(connection: Any, count: int, queue_name: str = "messages") -> list[str]:
    from rq import Queue

    from bench.jobs import noop

    queue = Queue(queue_name, connection=connection)
    ids = []
    with connection.pipeline() as pipe:
        for index in range(count):
            job = queue.enqueue(noop, job_id=f"bench-noop-{index}", pipeline=pipe)
            ids.append(job.id)
        pipe.execute()
    return ids


def worker_children_rss(pid: int) -> int:
    return rss_kb(pid) + sum(rss_kb(child) for child in children(pid))
