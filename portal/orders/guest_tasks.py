"""The job that e-mails a guest their single-use link to an order."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app, url_for
from rq.job import Job
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.mail import send_email
from portal.orders.guest import LINK_JOB_RETRY, issue_link_token, link_job_id, mark_link_sent
from portal.orders.guest_models import GuestLink
from portal.queue import PendingJob, enqueue_many_now, redis_connection

log = logging.getLogger(__name__)

# A link unsent this long after it was asked for, whose job Redis has never heard of, lost its job: Redis was
# down when the lookup committed.
LOST_JOB_AFTER = timedelta(seconds=30)


def send_guest_link(link_id: int) -> bool:
    """Make up the link's token and e-mail it to the address on the order; True if an e-mail went out.

    Safe to run twice: a link that was already sent (or has expired, or was used) is left alone. If sending
    fails, nothing is stored, so a retry starts afresh with a new token.
    """
    issued = issue_link_token(link_id)
    if issued is None:
        db.session.rollback()
        log.info("guest link %s already sent, used or expired; nothing to do", link_id)
        return False
    order = issued.link.order
    try:
        send_email(
            order.email,
            "guest_link",
            order.locale,
            to_name=order.customer_name,
            link=_absolute_link(issued.token),
            order_number=order.number,
            customer_name=order.customer_name,
            minutes=max(1, round((issued.link.expires_at - issued.link.created_at).total_seconds() / 60)),
        )
    except Exception:
        db.session.rollback()
        raise
    mark_link_sent(issued.link)
    db.session.commit()
    return True


def sweep_guest_links(limit: int = 500) -> int:
    """Queue the e-mail of live links whose job never reached Redis; returns how many were queued.

    Only jobs RQ does not know at all are queued again: one waiting for a retry, running, or failed for good
    (kept in RQ's failed registry) is left alone, so a link that cannot be sent is not retried every minute.
    Raises redis.RedisError while Redis is away (the worker's periodic thread tries again later).
    """
    now = clock.now()
    link_ids = list(
        db.session.scalars(
            select(GuestLink.id)
            .where(
                GuestLink.expires_at > now,
                GuestLink.sent_at.is_(None),
                GuestLink.used_at.is_(None),
                GuestLink.created_at < now - LOST_JOB_AFTER,
            )
            .order_by(GuestLink.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    if not link_ids:
        return 0
    known = Job.fetch_many([link_job_id(i) for i in link_ids], connection=redis_connection())
    lost = [link_id for link_id, job in zip(link_ids, known, strict=True) if job is None]
    jobs = [PendingJob(send_guest_link, (i,), link_job_id(i), "messages", retry=LINK_JOB_RETRY) for i in lost]
    queued = enqueue_many_now(jobs)
    if queued:
        log.warning("guest link sweeper: %d link e-mail(s) queued again", queued)
    return queued


def _absolute_link(token: str) -> str:
    # A job has no request: build the URL as a request to PORTAL_BASE_URL would (path prefix included).
    with current_app.test_request_context(base_url=current_app.config["PORTAL_BASE_URL"]):
        return url_for("guest.confirm_link", token=token, _external=True)
