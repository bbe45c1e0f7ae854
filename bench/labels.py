"""Label PDFs: through the `labels` queue (the portal's worker) vs the same labels rendered in-process in a
loop, one label vs a minimal WeasyPrint page, and the label worker's RSS after 50 and 500 labels."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

from bench.report import Report, Row, memory_row

IN_PROCESS_LABELS = 40
MINIMAL_PAGES = 20
# Bounded like the messages: the rate comes from the labels finished within the window.
LABEL_WINDOW_SECONDS = int(os.environ.get("BENCH_LABEL_WINDOW", "150"))


def available() -> bool:
    try:
        from portal.returns import label
    except ImportError:
        return False
    return hasattr(label, "render_label")


def reset_labels(app: Any, return_ids: list[int]) -> None:
    """The benchmark's labels back to pending (the previous run rendered them)."""
    from sqlalchemy import update

    from portal.extensions import db
    from portal.returns.models import ReturnLabel

    with app.app_context():
        db.session.execute(
            update(ReturnLabel)
            .where(ReturnLabel.return_id.in_(return_ids))
            .values(
                state="pending",
                attempts=0,
                claimed_at=None,
                claim_token=None,
                pdf=None,
                sha256=None,
                size=None,
                generated_at=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def enqueue_labels(app: Any, return_ids: list[int]) -> list[str]:
    from portal.queue import PendingJob, enqueue_now, redis_connection
    from portal.returns.service import LABEL_JOB, LABEL_QUEUE, label_job_id, label_job_options

    with app.app_context():
        redis_connection().flushdb()
        ids = []
        for return_id in return_ids:
            options = label_job_options()
            retry = options.pop("retry")
            job_id = label_job_id(return_id, 1)
            enqueue_now(
                PendingJob(LABEL_JOB, (return_id,), job_id, LABEL_QUEUE, retry=retry, options=options)
            )
            ids.append(job_id)
        return ids


def in_process_rate(app: Any, return_ids: list[int]) -> dict[str, float]:
    """The same labels rendered by render_label in this process, after one warm-up label."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from portal.extensions import db
    from portal.returns.label import render_label
    from portal.returns.models import Return, ReturnLine
    from portal.returns.tasks import label_values

    with app.app_context():
        values = []
        for return_id in return_ids:
            item = db.session.scalar(
                select(Return)
                .where(Return.id == return_id)
                .options(
                    selectinload(Return.lines).joinedload(ReturnLine.order_item), selectinload(Return.order)
                )
            )
            values.append(label_values(item))
        db.session.rollback()
        render_label(values[0])
        started = time.perf_counter()
        sizes = [len(render_label(value)) for value in values]
        seconds = time.perf_counter() - started
    return {
        "labels": len(values),
        "seconds": seconds,
        "per_second": len(values) / seconds,
        "mean_bytes": sum(sizes) / len(sizes),
    }


def in_process_job_rate(app: Any, return_ids: list[int]) -> dict[str, float]:
    """The label job itself (claim, read, render, store: what the worker runs) called in this process in a
    loop, each call in an application context of its own as in the worker, after one warm-up job. Against
    the queue's rate this leaves only the queue's own cost (RQ's Redis bookkeeping per job)."""
    from portal.extensions import db
    from portal.returns.tasks import render_return_label

    reset_labels(app, return_ids)
    with app.app_context():
        render_return_label(return_ids[0])
        db.session.remove()
    started = time.perf_counter()
    outcomes = []
    for return_id in return_ids[1:]:
        with app.app_context():
            outcomes.append(render_return_label(return_id))
            db.session.remove()
    seconds = time.perf_counter() - started
    return {
        "labels": len(outcomes),
        "stored": outcomes.count("stored"),
        "seconds": seconds,
        "per_second": len(outcomes) / seconds,
    }


def minimal_page_seconds() -> float:
    """A minimal 4x6 inch WeasyPrint page (a heading and a line), per page, after one warm-up page."""
    from weasyprint import HTML

    page = "<style>@page { size: 4in 6in }</style>"
    HTML(string=f"{page}<p>warm</p>").write_pdf()
    started = time.perf_counter()
    for index in range(MINIMAL_PAGES):
        HTML(string=f"{page}<h1>Return</h1><p>Label {index}</p>").write_pdf()
    return (time.perf_counter() - started) / MINIMAL_PAGES


def _rss_when(samples: list[tuple[float, int, int]], moment: datetime) -> tuple[int, int]:
    """The worker's RSS sample nearest to `moment` (worker alone, worker + work horse)."""
    target = moment.replace(tzinfo=UTC).timestamp() if moment.tzinfo is None else moment.timestamp()
    nearest = min(samples, key=lambda sample: abs(sample[0] - target))
    return nearest[1], nearest[2]


def measure(app: Any, report: Report, env: dict[str, str], return_ids: list[int], count: int = 500) -> None:
    from rq.job import Job

    from bench.queues import job_rate, run_burst_workers
    from portal.queue import redis_connection

    return_ids = return_ids[:count]
    reset_labels(app, return_ids)
    job_ids = enqueue_labels(app, return_ids)
    run = run_burst_workers(env, 1, ["labels"], timeout=LABEL_WINDOW_SECONDS, sample_rss=True)
    with app.app_context():
        connection = redis_connection()
        queued = job_rate(connection, job_ids)
        jobs = [job for job in Job.fetch_many(job_ids, connection=connection) if job and job.ended_at]
        connection.flushdb()
    ends = sorted(job.ended_at for job in jobs)
    local = in_process_rate(app, return_ids[:IN_PROCESS_LABELS])
    jobs_local = in_process_job_rate(app, return_ids[: IN_PROCESS_LABELS + 1])
    minimal = minimal_page_seconds()
    one_label = 1 / local["per_second"]
    share = queued["per_worker"] / local["per_second"] if local["per_second"] else None
    report.details["labels"] = {
        "queue": queued,
        "in_process": local,
        "in_process_jobs": jobs_local,
        "minimal_page_seconds": minimal,
        "wall_seconds": run["seconds"],
        "timed_out": run["timed_out"],
    }
    report.add(
        Row(
            f"labels through the queue ({queued['jobs']} of {len(return_ids)})",
            f"{queued['per_worker']:.1f} labels/s per worker",
            reference=f"{local['per_second']:.1f}/s in-process loop",
            ratio=share,
            target="≥ 0.80",
            passed=share is not None and share >= 0.8 and queued["jobs"] == len(return_ids),
            note=f"1 worker (python worker.py --burst --queues labels); {queued['failed']} failed",
        )
    )
    job_share = queued["per_worker"] / jobs_local["per_second"] if jobs_local["per_second"] else None
    report.add(
        Row(
            "labels through the queue vs the label job in-process",
            f"{queued['per_worker']:.1f} labels/s per worker",
            reference=f"{jobs_local['per_second']:.1f}/s job loop",
            ratio=job_share,
            target="(report)",
            note=f"the job function in a loop, {jobs_local['stored']} of {jobs_local['labels']} stored; "
            "the rest is the queue's own cost",
        )
    )
    report.add(
        Row(
            "one label vs a minimal WeasyPrint page",
            f"{one_label * 1000:.0f} ms",
            reference=f"{minimal * 1000:.0f} ms minimal page",
            ratio=one_label / minimal,
            target="≤ 1.30",
            passed=one_label / minimal <= 1.3,
            note=f"mean label {local['mean_bytes'] / 1024:.0f} KB",
        )
    )
    samples = run["rss_samples"]
    if len(ends) >= 50 and samples:
        after_50 = _rss_when(samples, ends[49])
        after_all = _rss_when(samples, ends[-1])
        report.add(
            memory_row(
                f"label worker RSS after {len(ends)} labels",
                after_50[0],
                after_all[0],
                "after 50",
                note=f"worker + work horse: {after_50[1] / 1024:.0f} → {after_all[1] / 1024:.0f} MB; "
                f"largest sample {max(s[2] for s in samples) / 1024:.0f} MB",
            )
        )
    else:
        report.add(Row("label worker RSS 50 → 500 labels", f"n/a ({len(ends)} labels done)", passed=False))
