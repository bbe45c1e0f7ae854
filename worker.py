"""Runs one RQ worker (queues default, messages, labels, webhooks) with its scheduler, inside the app context.

python worker.py            # until SIGTERM/SIGINT; the current job is finished first
python worker.py --burst    # work until the queues are empty, then exit
"""

from __future__ import annotations

import argparse
import os

from rq import Worker

from portal import create_app
from portal.extensions import db
from portal.queue import QUEUE_NAMES, get_queue, redis_connection


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
        # Each job runs in a forked work horse: it must not share the parent's database connections.
        os.register_at_fork(after_in_child=lambda: db.engine.dispose(close=False))
        worker = Worker(
            [get_queue(name) for name in args.queues],
            connection=redis_connection(),
            name=args.name,
        )
        worker.work(burst=args.burst, with_scheduler=True, logging_level="INFO")


if __name__ == "__main__":
    main()
