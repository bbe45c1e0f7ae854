"""Queue webhooks for the shop in the caller's transaction, and let staff see and retry their deliveries."""

from __future__ import annotations

import json
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import audit, clock
from portal.audit import Actor
from portal.errors import Conflict, NotFound
from portal.extensions import db
from portal.queue import enqueue_after_commit
from portal.webhooks.models import WEBHOOK_STATUSES, WebhookDelivery

WEBHOOK_QUEUE = "webhooks"
# By name: the tasks module imports this one.
DELIVER_JOB = "portal.webhooks.tasks.deliver_webhook"


def attempt_job_id(delivery_id: int, attempt: int) -> str:
    """The RQ job id of one attempt: the same attempt asked for twice is queued once."""
    return f"webhook-{delivery_id}-{attempt}"


def queue_webhook(event_type: str, data: dict[str, Any]) -> WebhookDelivery:
    """Write the outbox row for one event in the current transaction; a worker sends it after the commit.

    `data` must be JSON-serialisable; it becomes the body's "data". Raises TypeError when it is not.
    """
    now = clock.now()
    event_id = f"evt_{uuid.uuid4().hex}"
    body = {"id": event_id, "type": event_type, "created_at": now.isoformat(), "data": data}
    delivery = WebhookDelivery(
        event_id=event_id,
        type=event_type,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at=now,
        status="pending",
        attempt_count=0,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    db.session.flush()
    enqueue_after_commit(DELIVER_JOB, delivery.id, job_id=attempt_job_id(delivery.id, 1), queue=WEBHOOK_QUEUE)
    return delivery


def recent_deliveries(status: str | None = None, limit: int = 50) -> list[WebhookDelivery]:
    """The newest outbox rows (optionally of one status) with their attempts, for the back-office."""
    if status is not None and status not in WEBHOOK_STATUSES:
        message = str(_l("Unknown webhook status %(status)s.", status=repr(status)))
        raise NotFound(message, code="unknown_status")
    query = (
        select(WebhookDelivery)
        .options(selectinload(WebhookDelivery.attempts))
        .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    return list(db.session.scalars(query))


def get_delivery(delivery_id: int) -> WebhookDelivery:
    """One outbox row with its attempts. Raises NotFound."""
    delivery = db.session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .options(selectinload(WebhookDelivery.attempts))
    )
    if delivery is None:
        raise NotFound(str(_l("No webhook delivery %(id)s.", id=delivery_id)), code="webhook_not_found")
    return delivery


def retry_delivery(delivery_id: int, actor: Actor) -> WebhookDelivery:
    """Send a failed or skipped webhook again now (staff only; the caller checks the role).

    Raises NotFound, and Conflict while the delivery is still pending, being sent or already delivered.
    """
    delivery = db.session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id).with_for_update()
    )
    if delivery is None:
        raise NotFound(str(_l("No webhook delivery %(id)s.", id=delivery_id)), code="webhook_not_found")
    if delivery.status not in ("failed", "skipped"):
        raise Conflict(
            str(_l("This webhook has not failed: only failed or skipped webhooks can be sent again.")),
            code="webhook_not_retryable",
        )
    before = {"status": delivery.status, "attempts": delivery.attempt_count}
    delivery.status = "pending"
    delivery.next_attempt_at = clock.now()
    db.session.flush()
    audit.record(actor, "webhook.retried", "webhook", delivery.event_id, before, {"status": "pending"})
    enqueue_after_commit(
        DELIVER_JOB,
        delivery.id,
        job_id=attempt_job_id(delivery.id, delivery.attempt_count + 1),
        queue=WEBHOOK_QUEUE,
    )
    return delivery
