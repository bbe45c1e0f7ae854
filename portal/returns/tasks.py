"""The label job and its sweeper.

`render_return_label(return_id)` claims the label row (pending, or rendering with an expired lease →
rendering, with a fresh claim token) in one conditional UPDATE, renders without holding a database
transaction, and stores the PDF only if its claim still holds. A second run, or two workers, therefore
leave exactly one label.

A worker killed in the middle (SIGKILL, OOM, power) leaves the row in `rendering`. RQ would only notice
once the job's heartbeat expires and a worker's maintenance runs (every ten minutes), and the job id stays
"started" until then; so `sweep_labels()` — run by every worker serving the labels queue once a minute —
queues the next attempt (a new job id) for every claim older than LABEL_RENDER_LEASE_SECONDS, and for
pending labels whose job was lost (Redis down at commit).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import joinedload

from portal import clock, shop_settings
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.orders.models import Order
from portal.queue import PendingJob, enqueue_now
from portal.returns.models import Return, ReturnLabel, ReturnLine
from portal.returns.service import LABEL_JOB, LABEL_QUEUE, label_job_id, label_job_options, mark_label_ready

if TYPE_CHECKING:
    from portal.returns.label import LabelValues

log = logging.getLogger(__name__)

# Tests slow the rendering down with this (only under PORTAL_ENV=testing) to kill a worker in the middle.
TEST_DELAY_ENV = "PORTAL_TEST_LABEL_DELAY_SECONDS"


def _lease() -> timedelta:
    return timedelta(seconds=int(current_app.config["LABEL_RENDER_LEASE_SECONDS"]))


def _max_attempts() -> int:
    return int(current_app.config["LABEL_MAX_ATTEMPTS"])


def _claimable(now: Any) -> Any:
    return or_(
        ReturnLabel.state == "pending",
        and_(ReturnLabel.state == "rendering", ReturnLabel.claimed_at < now - _lease()),
    )


def _claim(return_id: int) -> str | None:
    """Take the label for this worker; the claim token, or None when it is ready or someone else has it.

    Does not commit: the caller commits the claim with what it reads for the label (one transaction).
    """
    now = clock.now()
    token = uuid.uuid4().hex
    result = cast(
        CursorResult[Any],
        db.session.execute(
            update(ReturnLabel)
            .where(
                ReturnLabel.return_id == return_id,
                _claimable(now),
                ReturnLabel.attempts < _max_attempts(),
            )
            .values(state="rendering", claimed_at=now, claim_token=token, attempts=ReturnLabel.attempts + 1)
            .execution_options(synchronize_session=False)
        ),
    )
    return token if result.rowcount == 1 else None


def label_values(item: Return) -> LabelValues:
    """The plain values the label template gets."""
    from portal.returns.label import LabelValues

    order = item.order
    customer = order.customer
    locale = (customer.locale if customer else None) or order.locale or current_app.config["DEFAULT_LOCALE"]
    locale = locale.split("-")[0].split("_")[0].lower()
    if locale not in SUPPORTED_LOCALES:
        locale = current_app.config["DEFAULT_LOCALE"]
    from_lines = tuple(
        line
        for line in (
            order.ship_name,
            order.ship_line1,
            order.ship_line2,
            f"{order.ship_postal_code} {order.ship_city}".strip(),
            order.ship_region,
            order.ship_country,
        )
        if line
    )
    to_lines = tuple(
        line.strip() for line in str(shop_settings.get("RETURNS_ADDRESS")).splitlines() if line.strip()
    )
    items = tuple(
        (
            f"{line.order_item.name} ({line.order_item.variant})"
            if line.order_item.variant
            else line.order_item.name,
            line.quantity,
        )
        for line in item.lines
    )
    zone = ZoneInfo(current_app.config["DEFAULT_TIMEZONE"])
    return LabelValues(
        rma=item.rma,
        method=item.method,
        locale=locale,
        from_lines=from_lines,
        to_lines=to_lines,
        shop_name=str(shop_settings.get("SHOP_NAME")),
        accent_color=str(shop_settings.get("BRAND_ACCENT_COLOR")),
        items=items,
        created_on=item.created_at.astimezone(zone).date(),
        qr_payload=item.rma,
    )


def _release(return_id: int, token: str, error: str) -> None:
    """Give the claim back after a failed rendering (failed for good after LABEL_MAX_ATTEMPTS)."""
    db.session.rollback()
    label = db.session.get(ReturnLabel, return_id)
    if label is None or label.claim_token != token:
        return
    label.state = "failed" if label.attempts >= _max_attempts() else "pending"
    label.claim_token = None
    label.claimed_at = None
    label.last_error = error[:500]
    db.session.commit()


def render_return_label(return_id: int) -> str:
    """Render and store the label of one return once; safe to run twice or on two workers at once.

    Two transactions (each a pool checkout, BEGIN and COMMIT; a label's fixed cost is mostly these round
    trips): the claim with everything the label prints, committed before rendering so no connection waits
    while WeasyPrint works; then the PDF, with the return's move to label_ready when it was approved.
    """
    # Read the shop settings the label prints before claiming: a failed read there rolls the session back,
    # which must not take the uncommitted claim with it.
    shop_settings.overrides()
    token = _claim(return_id)
    if token is None:
        db.session.commit()
        return "not claimed"
    # Everything label_values reads, in one statement: the return with its order, customer and lines.
    item = db.session.scalar(
        select(Return)
        .where(Return.id == return_id)
        .options(
            joinedload(Return.order).joinedload(Order.customer),
            joinedload(Return.lines).joinedload(ReturnLine.order_item),
        )
    )
    if item is None:
        db.session.commit()
        return "gone"
    # Whether the return may still move to label_ready: statuses only move forward, so a return that is not
    # approved now never will be, and storing its label needs no second look at it.
    was_approved = item.status == "approved"
    try:
        values = label_values(item)
    except Exception as error:
        db.session.commit()  # the claim (this attempt counts), then give it back with the error
        log.exception("label of return %s failed", return_id)
        _release(return_id, token, f"{type(error).__name__}: {error}")
        raise
    db.session.commit()
    try:
        _test_delay()
        from portal.returns.label import render_label

        pdf = render_label(values)
    except Exception as error:
        log.exception("label of return %s failed", return_id)
        _release(return_id, token, f"{type(error).__name__}: {error}")
        raise
    stored = cast(
        CursorResult[Any],
        db.session.execute(
            update(ReturnLabel)
            .where(
                ReturnLabel.return_id == return_id,
                ReturnLabel.state == "rendering",
                ReturnLabel.claim_token == token,
            )
            .values(
                state="ready",
                pdf=pdf,
                sha256=hashlib.sha256(pdf).hexdigest(),
                size=len(pdf),
                generated_at=clock.now(),
                claim_token=None,
                last_error=None,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    if stored.rowcount != 1:
        # Our lease ran out and another worker took over: its label is the one.
        db.session.rollback()
        return "lost claim"
    if was_approved:
        # Read again: it may have moved on (cancelled, say) while the label was being rendered.
        fresh = db.session.get(Return, return_id, populate_existing=True)
        if fresh is not None:
            mark_label_ready(fresh)
    db.session.commit()
    return "stored"


def _test_delay() -> None:
    if current_app.config["PORTAL_ENV"] != "testing":
        return
    seconds = float(os.environ.get(TEST_DELAY_ENV) or 0)
    if seconds > 0:
        time.sleep(seconds)


def sweep_labels() -> int:
    """Queue the next attempt of labels whose job was lost or whose worker died; return how many."""
    now = clock.now()
    stuck = db.session.execute(
        select(ReturnLabel.return_id, ReturnLabel.attempts, ReturnLabel.state).where(_claimable(now))
    ).all()
    queued = 0
    for return_id, attempts, state in stuck:
        if attempts >= _max_attempts():
            db.session.execute(
                update(ReturnLabel)
                .where(ReturnLabel.return_id == return_id, ReturnLabel.state == state)
                .values(state="failed", claim_token=None, last_error="gave up after too many attempts")
            )
            continue
        options = label_job_options()
        retry = options.pop("retry")
        job = PendingJob(
            LABEL_JOB,
            (return_id,),
            label_job_id(return_id, attempts + 1),
            LABEL_QUEUE,
            retry=retry,
            options=options,
        )
        if enqueue_now(job):
            queued += 1
    db.session.commit()
    return queued
