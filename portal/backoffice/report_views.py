"""Staff work queues (parcels at risk, failed messages and webhooks, returns to review) and the reports
(dashboard, transit lanes)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from portal import clock
from portal.backoffice import actions, dashboard
from portal.backoffice.views import bp, day_after, day_start, parse_day, staff_actor
from portal.errors import DomainError, NotFound
from portal.extensions import db
from portal.htmx import render_page_or_block
from portal.messaging.models import Message
from portal.orders.models import TRACKING_STATUSES
from portal.orders.predictions import HANDOVER, at_risk_shipments, describe_lane, lane_report
from portal.orders.presenters import CONFIDENCE_WORDS
from portal.webhooks import service as webhooks

FAILED_LIMIT = 100
DEFAULT_PERIOD_DAYS = 30

# The returns queue, once the returns area offers one: a function returning the returns waiting for review
# (oldest first), each with `rma`, `order`, `requested_at` and `review_reason`. None: no returns area yet.
RETURNS_REVIEW_QUEUE: list[Callable[[], list[Any]]] = []


# --- queues -------------------------------------------------------------------------------------------------


@bp.get("/queues/at-risk")
def at_risk() -> Response:
    """Parcels flagged stalled or late, longest flagged first, with why."""
    return render_page_or_block(
        "backoffice/at_risk.html", "content", shipments=at_risk_shipments(), confidence_words=CONFIDENCE_WORDS
    )


@bp.get("/queues/failed")
def failed() -> Response:
    """Messages and webhooks that failed for good, newest first, with retry buttons."""
    messages = db.session.scalars(
        select(Message)
        .where(Message.status == "failed")
        .order_by(Message.updated_at.desc(), Message.id.desc())
        .limit(FAILED_LIMIT)
        .options(joinedload(Message.order))
    ).all()
    deliveries = webhooks.recent_deliveries("failed", limit=FAILED_LIMIT)
    return render_page_or_block("backoffice/failed.html", "content", messages=messages, deliveries=deliveries)


def _retry_from_failed_page(retry: Callable[[], object], done: str) -> Response:
    """Run a retry for the failed-sends page: commit and say `done`, or roll back and show the refusal."""
    try:
        retry()
    except NotFound:
        raise
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".failed"), 303)
    db.session.commit()
    flash(done, "success")
    return redirect(url_for(".failed"), 303)


@bp.post("/queues/messages/<int:message_id>/retry")
def retry_message(message_id: int) -> Response:
    """Queue a failed message again."""
    return _retry_from_failed_page(
        lambda: actions.retry_failed_message(message_id, staff_actor()),
        _("The message will be sent again within a minute."),
    )


@bp.post("/queues/webhooks/<int:delivery_id>/retry")
def retry_webhook(delivery_id: int) -> Response:
    """Send a failed webhook again now."""
    return _retry_from_failed_page(
        lambda: webhooks.retry_delivery(delivery_id, staff_actor()), _("The webhook is being sent again.")
    )


@bp.get("/queues/returns")
def returns_queue() -> Response:
    """Returns waiting for a staff decision, oldest first, with the rule that sent them here."""
    returns = RETURNS_REVIEW_QUEUE[0]() if RETURNS_REVIEW_QUEUE else None
    return render_page_or_block("backoffice/returns_queue.html", "content", returns=returns)


# --- reports ------------------------------------------------------------------------------------------------


@bp.get("/lanes")
def lanes() -> Response:
    """Per lane: parcels, median and p80/p95 transit in business days, on-time rate (how windows are made)."""
    from_status = request.args.get("from", HANDOVER)
    if from_status not in (HANDOVER, *TRACKING_STATUSES):
        from_status = HANDOVER
    rows = lane_report(from_status)
    return render_page_or_block(
        "backoffice/lanes.html",
        "content",
        rows=rows,
        describe=lambda row: describe_lane((row.carrier, row.service, row.country, row.area)),
        from_status=from_status,
        statuses=(HANDOVER, *TRACKING_STATUSES),
    )


@bp.get("/dashboard")
def dashboard_page() -> Response:
    """The shop's post-purchase health over a chosen period (default: the last 30 days)."""
    errors: dict[str, str] = {}
    first, error = parse_day("from")
    if error:
        errors["from"] = error
    last, error = parse_day("until")
    if error:
        errors["until"] = error
    today = clock.now().date()
    last = last or today
    first = first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if not errors and last < first:
        errors["until"] = _("The end date must not be before the start date.")
    if not errors and (last - first).days > 3660:
        errors["from"] = _("Choose a period of at most ten years.")
    if errors:
        return render_page_or_block(
            "backoffice/dashboard.html",
            "content",
            status=422,
            errors=errors,
            board=None,
            first=first,
            last=last,
        )
    board = dashboard.cached_build(day_start(first), day_after(last))
    return render_page_or_block(
        "backoffice/dashboard.html",
        "content",
        errors=errors,
        board=board,
        figures=_figures(board),
        first=first,
        last=last,
    )


def _figures(board: dashboard.Dashboard) -> Markup:
    """The figures and charts, rendered once per board and kept with it: a cached board (one per period and
    language) is shown again and again, and drawing its charts is most of the page's work."""
    html = board.rendered.get("figures")
    if html is None:
        buckets = [str(day) for day in range(dashboard.MAX_BUCKET)] + [f"{dashboard.MAX_BUCKET}+"]
        html = render_template("backoffice/_dashboard_figures.html", board=board, buckets=buckets)
        board.rendered["figures"] = html
    # Markup: rendered by Jinja with autoescaping.
    return Markup(html)  # noqa: S704  # nosec B704
