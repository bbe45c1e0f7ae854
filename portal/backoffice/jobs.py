"""Job health for admins, from RQ's own registries: queue lengths, live workers, failed jobs to retry or
delete. Every retry or deletion is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from portal import audit
from portal.audit import Actor
from portal.errors import NotFound
from portal.queue import QUEUE_NAMES, get_queue, redis_connection

FAILED_SHOWN = 50


@dataclass(frozen=True)
class QueueHealth:
    name: str
    waiting: int
    running: int
    scheduled: int
    failed: int


@dataclass(frozen=True)
class WorkerHealth:
    name: str
    state: str
    queues: list[str]
    last_heartbeat: datetime | None
    current_job: str | None


@dataclass(frozen=True)
class FailedJob:
    queue: str
    id: str
    function: str
    ended_at: datetime | None
    error: str


def queue_health() -> list[QueueHealth]:
    result = []
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        result.append(
            QueueHealth(
                name=name,
                waiting=queue.count,
                running=queue.started_job_registry.count,
                scheduled=queue.scheduled_job_registry.count,
                failed=queue.failed_job_registry.count,
            )
        )
    return result


def workers() -> list[WorkerHealth]:
    return [
        WorkerHealth(
            name=worker.name,
            state=str(worker.get_state()),
            queues=worker.queue_names(),
            last_heartbeat=worker.last_heartbeat,
            current_job=worker.get_current_job_id(),
        )
        for worker in Worker.all(connection=redis_connection())
    ]


def failed_jobs(limit: int = FAILED_SHOWN) -> list[FailedJob]:
    """The newest failed jobs of every queue (at most `limit` per queue)."""
    found = []
    for name in QUEUE_NAMES:
        registry = get_queue(name).failed_job_registry
        ids = registry.get_job_ids(0, limit - 1)
        for job in Job.fetch_many(ids, connection=redis_connection()):
            if job is None:
                continue
            result = job.latest_result()
            error = (result.exc_string if result is not None else "") or ""
            found.append(
                FailedJob(
                    queue=name,
                    id=job.id,
                    function=job.func_name or "",
                    ended_at=job.ended_at,
                    error=error.strip().splitlines()[-1][:300] if error.strip() else "",
                )
            )
    return found


def _failed_job(queue: str, job_id: str) -> tuple[object, str]:
    if queue not in QUEUE_NAMES:
        raise NotFound(str(_l("No such queue.")), code="queue_not_found")
    registry = get_queue(queue).failed_job_registry
    if job_id not in registry.get_job_ids():
        raise NotFound(str(_l("No such failed job.")), code="job_not_found")
    return registry, job_id


def retry_job(queue: str, job_id: str, actor: Actor) -> None:
    """Put a failed job back on its queue. Raises NotFound."""
    registry, _ = _failed_job(queue, job_id)
    try:
        registry.requeue(job_id)  # type: ignore[attr-defined]
    except NoSuchJobError:
        raise NotFound(str(_l("No such failed job.")), code="job_not_found") from None
    audit.record(
        actor, "job.retried", "job", job_id[:64], {"status": "failed"}, {"status": "queued", "queue": queue}
    )


def delete_job(queue: str, job_id: str, actor: Actor) -> None:
    """Forget a failed job for good. Raises NotFound."""
    registry, _ = _failed_job(queue, job_id)
    registry.remove(job_id, delete_job=True)  # type: ignore[attr-defined]
    audit.record(actor, "job.deleted", "job", job_id[:64], {"status": "failed", "queue": queue}, None)
