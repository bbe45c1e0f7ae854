"""Redis connection, the RQ queues, and `enqueue_after_commit`: work is queued only once its rows exist."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from portal import embedded_redis
from portal.extensions import db

log = logging.getLogger(__name__)

QUEUE_NAMES = ("default", "messages", "labels", "webhooks")
_PENDING_KEY = "portal.pending_jobs"
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_LIVE_STATES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def redis_url() -> str:
    """The configured REDIS_URL, or the embedded server's (started on first use)."""
    configured = current_app.config.get("REDIS_URL")
    if configured:
        return str(configured)
    return embedded_redis.ensure_running(current_app.instance_path)


def redis_connection() -> redis.Redis:
    """One client (and connection pool) per application."""
    conn = current_app.extensions.get("portal_redis")
    if conn is None:
        conn = redis.Redis.from_url(redis_url(), socket_timeout=5, socket_connect_timeout=2)
        current_app.extensions["portal_redis"] = conn
    return conn


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=redis_connection())


@dataclass(frozen=True)
class PendingJob:
    func: Callable[..., Any] | str
    args: tuple[Any, ...]
    job_id: str
    queue: str = "default"
    delay: timedelta | None = None
    retry: Retry | None = None
    options: dict[str, Any] = field(default_factory=dict)


def enqueue_after_commit(
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str,
    queue: str = "default",
    delay: timedelta | None = None,
    retry: Retry | None = None,
    **options: Any,
) -> None:
    """Enqueue `func(*args)` once the current transaction commits; forget it if the transaction rolls back.

    `job_id` must be deterministic (derived from the rows the job works on) so that the same work asked for
    twice is queued once. If Redis is unreachable at commit time the job is not lost: its rows are the truth,
    and the periodic sweeper of the area that owns them enqueues it again.
    """
    if queue not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {queue!r}")
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"job id {job_id!r} may hold only letters, digits, '_' and '-'")
    session = db.session()
    # Remember the (possibly nested) transaction the job belongs to: rolling back a savepoint drops only
    # the jobs asked for inside it.
    transaction = session.get_nested_transaction() or session.get_transaction() or session.begin()
    session.info.setdefault(_PENDING_KEY, []).append(
        (transaction, PendingJob(func, args, job_id, queue, delay, retry, options))
    )


def enqueue_now(job: PendingJob) -> bool:
    """Put one job on its queue unless a job with the same id is already waiting or running."""
    queue = get_queue(job.queue)
    try:
        existing = Job.fetch(job.job_id, connection=queue.connection)
    except NoSuchJobError:
        existing = None
    if existing is not None and existing.get_status(refresh=False) in _LIVE_STATES:
        return False
    func: Any = job.func
    if job.delay:
        queue.enqueue_in(job.delay, func, *job.args, job_id=job.job_id, retry=job.retry, **job.options)
    else:
        queue.enqueue(func, *job.args, job_id=job.job_id, retry=job.retry, **job.options)
    return True


def live_job_ids(job_ids: Sequence[str], connection: redis.Redis) -> set[str]:
    """Which of these jobs are waiting or running (one Redis round trip)."""
    if not job_ids:
        return set()
    existing = Job.fetch_many(job_ids, connection=connection)
    return {job.id for job in existing if job is not None and job.get_status(refresh=False) in _LIVE_STATES}


def enqueue_many_now(jobs: Sequence[PendingJob]) -> int:
    """`enqueue_now` for many jobs in a few Redis round trips (the dispatcher queues a thousand at a time):
    one to see which ids are already waiting or running, one per queue to add the rest. Returns how many
    were queued. Delayed jobs go one by one."""
    if not jobs:
        return 0
    live = live_job_ids([job.job_id for job in jobs], get_queue(jobs[0].queue).connection)
    queued = 0
    by_queue: dict[str, list[Any]] = {}
    seen: set[str] = set()
    for job in jobs:
        if job.job_id in live or job.job_id in seen:
            continue
        seen.add(job.job_id)
        if job.delay:
            queued += enqueue_now(job)
            continue
        func: Any = job.func
        by_queue.setdefault(job.queue, []).append(
            Queue.prepare_data(func, job.args, job_id=job.job_id, retry=job.retry, **job.options)
        )
    for name, datas in by_queue.items():
        queued += len(get_queue(name).enqueue_many(datas))
    return queued


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    for _, job in session.info.pop(_PENDING_KEY, []):
        try:
            enqueue_now(job)
        except Exception:
            # The rows are committed whatever happens here; the sweeper of the owning area retries them.
            log.warning("could not enqueue job %s; left for the sweeper", job.job_id, exc_info=True)


def _inside(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _discard_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    """Forget the jobs asked for inside the transaction (or savepoint) that was rolled back."""
    pending = session.info.get(_PENDING_KEY)
    if pending:
        session.info[_PENDING_KEY] = [
            (transaction, job)
            for transaction, job in pending
            if not _inside(transaction, previous_transaction)
        ]
