"""Runs one RQ worker (queues default, messages, labels, webhooks) with its scheduler, inside the app context.

python worker.py            # until SIGTERM/SIGINT; the current job is finished first
python worker.py --burst    # work until the queues are empty, then exit

Every MESSAGE_DISPATCH_INTERVAL_SECONDS (a minute) a thread does the periodic work of the queues this worker
serves: it queues the message dispatcher as a job with a fixed id (so however many workers run, one dispatch
waits or runs at a time), re-queues account e-mails whose job was lost or whose worker died, re-queues due
webhook attempts whose job was lost, and queues the next attempt of return labels whose job was lost or whose
worker died mid-render. (RQ's CronScheduler is not used: it wants the main thread for its signal handlers,
i.e. a process of its own, and cannot give its jobs an id.) The database rows are the truth, so a tick lost
to a restart or a Redis outage only delays the work.

Every worker compiles the templates and loads the catalogs before it starts, so the work horses it forks
begin with templates compiled and catalogs read. Label jobs are not forked: they run in the worker process
itself (`PortalWorker`), which renders one small label first: WeasyPrint and the fonts are loaded before the
first job, and its caches serve every later one.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from collections.abc import Callable

from flask import Flask, current_app
from rq import Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

from portal import create_app
from portal.extensions import db
from portal.queue import QUEUE_NAMES, get_queue, redis_connection
from portal.warmup import warm_up_templates

log = logging.getLogger("portal.worker")

# Queues whose jobs run in the worker process itself instead of a forked work horse. A label job is ~50 ms of
# WeasyPrint; a work horse added a fork and a new database connection and, worse, started every job with the
# caches that died with the previous horse (compiled SQL, cffi's parsed C types, Pango's glyph and shaping
# caches), so a job took three to four times as long as the same rendering in-process.
IN_PROCESS_QUEUES = frozenset({"labels"})


class PortalWorker(Worker):
    """RQ's forking worker, except that jobs of IN_PROCESS_QUEUES run in this process, one at a time.

    Each such job gets an application context of its own (its own `g` and database session, removed at the
    end, as for a request), so nothing of one job leaks into the next. RQ's timeout still holds: the job runs
    under RQ's SIGALRM death penalty in the main thread. A worker killed mid-job loses the job as a killed
    work horse would; the labels' sweeper queues it again once its lease runs out.
    """

    def execute_job(self, job: Job, queue: Queue) -> None:
        if queue.name not in IN_PROCESS_QUEUES:
            super().execute_job(job, queue)
            return
        execution = self.prepare_execution(job)
        with current_app.app_context():
            self.perform_job(job, queue, execution)
        self.set_state(WorkerStatus.IDLE)

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        # No monitoring loop renews the heartbeat while a job runs in-process: it must outlast the job.
        if job.origin in IN_PROCESS_QUEUES and job.timeout and job.timeout > 0:
            return int(job.timeout) + 60
        return super().get_heartbeat_ttl(job, working_time)


def periodic_tasks(queues: list[str]) -> list[Callable[[], object]]:
    """The periodic work that belongs to the queues a worker serves."""
    from portal.accounts.tasks import sweep_account_emails
    from portal.loyalty.tasks import queue_loyalty_periodic
    from portal.messaging.tasks import queue_dispatch
    from portal.orders.guest_tasks import sweep_guest_links
    from portal.orders.predictions import queue_refresh_predictions
    from portal.returns.tasks import sweep_labels
    from portal.webhooks.tasks import sweep_due_webhooks

    tasks: list[Callable[[], object]] = []
    if "messages" in queues:
        tasks.append(queue_dispatch)
        tasks.append(sweep_account_emails)
        tasks.append(sweep_guest_links)
    if "webhooks" in queues:
        tasks.append(sweep_due_webhooks)
    if "default" in queues:
        tasks.append(queue_refresh_predictions)
        tasks.append(queue_loyalty_periodic)
    if "labels" in queues:
        tasks.append(sweep_labels)
    return tasks


def _run_periodically(app: Flask, tasks: list[Callable[[], object]], stop: threading.Event) -> None:
    interval = int(app.config["MESSAGE_DISPATCH_INTERVAL_SECONDS"])
    while not stop.is_set():
        for task in tasks:
            with app.app_context():
                try:
                    task()
                except Exception:
                    log.warning("periodic %s failed; trying again later", task.__name__, exc_info=True)
                finally:
                    db.session.remove()
        stop.wait(interval)


def warm_up_labels() -> None:
    """Load WeasyPrint and the label fonts before the first label job (they run in this process)."""
    from portal.returns.label import warm_up

    try:
        warm_up()
    except Exception:
        # The other queues must keep working; label jobs will fail (and retry) with the real error.
        log.exception("label warm-up failed")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--queues", nargs="*", default=list(QUEUE_NAMES), choices=QUEUE_NAMES)
    parser.add_argument("--name", default=None, help="worker name (default: host and pid)")
    args = parser.parse_args()

    app = create_app()
    with app.app_context():
        # Jobs of the other queues run in a forked work horse: it must not share this process's connections.
        os.register_at_fork(after_in_child=lambda: db.engine.dispose(close=False))
        warm_up_templates(app)
        if "labels" in args.queues:
            warm_up_labels()
        worker = PortalWorker(
            [get_queue(name) for name in args.queues],
            connection=redis_connection(),
            name=args.name,
        )
        stop = threading.Event()
        tasks = periodic_tasks(args.queues)
        if not args.burst and tasks:
            threading.Thread(
                target=_run_periodically, args=(app, tasks, stop), name="periodic", daemon=True
            ).start()
        try:
            worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")
        finally:
            stop.set()


if __name__ == "__main__":
    main()
