"""Job functions used by the queue tests; the worker process imports them by name like any real job."""

from __future__ import annotations

from sqlalchemy import select

from portal import audit
from portal.audit import AuditEntry
from portal.extensions import db


def record_marker(label: str) -> str:
    """Write an audit entry once per label (safe to run twice, like every job)."""
    exists = db.session.scalar(select(AuditEntry.id).where(AuditEntry.object_id == label))
    if exists is None:
        audit.record(audit.Actor.system("test-job"), "test.marker", "marker", label)
        db.session.commit()
    return label


def slow_marker(label: str, seconds: float) -> str:
    """Like record_marker, after a pause: long enough to stop a worker in the middle of it."""
    import time

    time.sleep(seconds)
    return record_marker(label)
