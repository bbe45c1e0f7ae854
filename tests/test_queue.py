"""enqueue_after_commit and the worker: jobs reach Redis only after commit and run in a real RQ worker."""

from __future__ import annotations

from typing import Any

from rq.job import Job
from sqlalchemy import select

from portal import audit
from portal.audit import AuditEntry
from portal.extensions import db
from portal.queue import enqueue_after_commit, get_queue
from tests.jobs import record_marker


def _add_row(label: str) -> None:
    audit.record(audit.Actor.system(), "test.row", "row", label)


def test_nothing_is_enqueued_when_the_transaction_rolls_back(app: Any) -> None:
    _add_row("a")
    enqueue_after_commit(record_marker, "a", job_id="marker-a")
    db.session.rollback()
    assert get_queue().count == 0
    # A later commit of other work must not carry the discarded job along.
    _add_row("b")
    db.session.commit()
    assert get_queue().count == 0


def test_jobs_are_enqueued_after_commit_once_per_id(app: Any) -> None:
    _add_row("a")
    enqueue_after_commit(record_marker, "a", job_id="marker-a")
    assert get_queue().count == 0  # not before the commit
    db.session.commit()
    assert get_queue().job_ids == ["marker-a"]
    enqueue_after_commit(record_marker, "a", job_id="marker-a")
    db.session.commit()
    assert get_queue().job_ids == ["marker-a"]


def test_unknown_queue_is_refused(app: Any) -> None:
    import pytest

    with pytest.raises(ValueError, match="unknown queue"):
        enqueue_after_commit(record_marker, "a", job_id="x", queue="nope")


def test_a_real_worker_runs_the_job(app: Any, run_worker: Any) -> None:
    enqueue_after_commit(record_marker, "from-worker", job_id="marker-from-worker", queue="messages")
    db.session.commit()
    result = run_worker("messages")
    assert result.returncode == 0, result.stderr
    db.session.expire_all()
    labels = db.session.scalars(select(AuditEntry.object_id).where(AuditEntry.action == "test.marker")).all()
    assert labels == ["from-worker"]
    job = Job.fetch("marker-from-worker", connection=get_queue().connection)
    assert job.get_status() == "finished"
    assert job.return_value() == "from-worker"


def test_sigterm_lets_the_worker_finish_the_current_job(app: Any, app_config: dict[str, Any]) -> None:
    import signal
    import subprocess
    import sys
    import time

    from rq import Worker

    from tests.conftest import ROOT, worker_env
    from tests.jobs import slow_marker

    enqueue_after_commit(slow_marker, "graceful", 2, job_id="marker-graceful")
    db.session.commit()
    env = worker_env(app_config)
    worker = subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    connection = get_queue().connection
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline
        and Job.fetch("marker-graceful", connection=connection).get_status() != "started"
    ):
        time.sleep(0.1)
    assert Job.fetch("marker-graceful", connection=connection).get_status() == "started"
    worker.send_signal(signal.SIGTERM)
    output, _ = worker.communicate(timeout=30)
    assert worker.returncode == 0, output
    assert Job.fetch("marker-graceful", connection=connection).get_status() == "finished"
    db.session.expire_all()
    assert (
        db.session.scalar(select(AuditEntry.object_id).where(AuditEntry.action == "test.marker"))
        == "graceful"
    )
    assert Worker.all(connection=connection) == []


def test_rolling_back_a_savepoint_keeps_the_outer_transactions_jobs(app: Any) -> None:
    _add_row("outer")
    enqueue_after_commit(record_marker, "outer", job_id="marker-outer")
    savepoint = db.session.begin_nested()
    _add_row("inner")
    enqueue_after_commit(record_marker, "inner", job_id="marker-inner")
    savepoint.rollback()
    db.session.commit()
    assert get_queue().job_ids == ["marker-outer"]


def test_workers_run_the_periodic_work_of_their_queues() -> None:
    import importlib.util

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("worker_module", ROOT / "worker.py")
    assert spec is not None and spec.loader is not None
    worker_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(worker_module)
    names = lambda queues: [task.__name__ for task in worker_module.periodic_tasks(queues)]  # noqa: E731
    assert names(["default", "messages", "labels", "webhooks"]) == [
        "queue_dispatch",
        "sweep_account_emails",
        "sweep_guest_links",
        "sweep_due_webhooks",
        "queue_refresh_predictions",
        "queue_loyalty_periodic",
        "sweep_labels",
    ]
    assert names(["webhooks"]) == ["sweep_due_webhooks"]
    assert names(["labels"]) == ["sweep_labels"]


def test_many_jobs_are_queued_together_once_per_id(app: Any) -> None:
    from portal.queue import PendingJob, enqueue_many_now

    enqueue_after_commit(record_marker, "a", job_id="marker-a")
    _add_row("a")
    db.session.commit()
    jobs = [
        PendingJob(record_marker, ("a",), "marker-a"),  # already waiting: not again
        PendingJob(record_marker, ("b",), "marker-b"),
        PendingJob(record_marker, ("b",), "marker-b"),  # twice in the batch: once
        PendingJob(record_marker, ("c",), "marker-c", queue="webhooks"),
    ]
    assert enqueue_many_now(jobs) == 2
    assert get_queue().job_ids == ["marker-a", "marker-b"]
    assert get_queue("webhooks").job_ids == ["marker-c"]
    assert Job.fetch("marker-b", connection=get_queue().connection).args == ("b",)
    assert enqueue_many_now(jobs) == 0
    assert enqueue_many_now([]) == 0
