"""The returns, loyalty and surveys areas in the back-office: finding orders by RMA, their entries on the
order timeline, the returns review queue, and their figures on the dashboard.

The back-office sits above every area (DESIGN.md), so it reads their models and calls their services; they
know nothing of it. `register()` runs once when the back-office views are imported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select

from portal.backoffice import dashboard, labels, report_views, search, timeline
from portal.backoffice.timeline import Entry
from portal.extensions import db
from portal.i18n import format_number, format_percentage, format_signed_number
from portal.orders.models import Order, Shipment

TOP_REASONS = 5


# --- returns ------------------------------------------------------------------------------------------------


def _orders_by_rma(text: search.Prefix) -> Any:
    from portal.returns.models import Return

    return select(Return.order_id).where(text.matches(Return.rma, "upper"))


def _return_entries(order: Order) -> Iterable[Entry]:
    from portal.returns.models import Return, ReturnEvent

    rows = db.session.execute(
        select(ReturnEvent, Return.rma)
        .join(Return, Return.id == ReturnEvent.return_id)
        .where(Return.order_id == order.id)
    ).all()
    for event, rma in rows:
        status_label = labels.return_status(event.status)
        yield Entry(
            event.occurred_at,
            "return",
            _("Return %(rma)s: %(status)s", rma=rma, status=status_label),
            event.note,
            actor=event.actor_label or None,
            status=event.status,
            status_label=status_label,
        )


@dataclass(frozen=True)
class ReviewRow:
    rma: str
    order: Order
    requested_at: datetime
    review_reason: str


def _review_queue() -> list[ReviewRow]:
    from portal.returns.service import review_queue

    return [
        ReviewRow(item.return_.rma, item.return_.order, item.return_.created_at, item.rule_label)
        for item in review_queue()
    ]


def _returns_section(start: datetime, end: datetime) -> dashboard.Section | None:
    from portal.returns.models import Return, ReturnLine
    from portal.returns.service import reasons

    requested = (
        db.session.scalar(
            select(func.count())
            .select_from(Return)
            .where(Return.created_at >= start, Return.created_at < end)
        )
        or 0
    )
    delivered_orders = (
        db.session.scalar(
            select(func.count(func.distinct(Shipment.order_id))).where(
                Shipment.delivered_at >= start, Shipment.delivered_at < end
            )
        )
        or 0
    )
    top = db.session.execute(
        select(ReturnLine.reason_code, func.sum(ReturnLine.quantity).label("units"))
        .join(Return, Return.id == ReturnLine.return_id)
        .where(Return.created_at >= start, Return.created_at < end)
        .group_by(ReturnLine.reason_code)
        .order_by(func.sum(ReturnLine.quantity).desc(), ReturnLine.reason_code)
        .limit(TOP_REASONS)
    ).all()
    labels = {reason.code: reason.label for reason in reasons()}
    rate = format_percentage(requested / delivered_orders, digits=1) if delivered_orders else "–"
    rows = [
        (_("Returns requested"), format_number(requested)),
        (_("Return rate (returns per order delivered in the period)"), rate),
    ]
    rows += [
        (
            _("Reason: %(reason)s", reason=labels.get(code, code)),
            ngettext("%(count)s item", "%(count)s items", int(units), count=format_number(units)),
        )
        for code, units in top
    ]
    return dashboard.Section(_("Returns"), rows)


# --- loyalty ------------------------------------------------------------------------------------------------


def _loyalty_entries(order: Order) -> Iterable[Entry]:
    from portal.loyalty.models import LedgerEntry

    for entry in db.session.scalars(select(LedgerEntry).where(LedgerEntry.order_id == order.id)):
        yield Entry(
            entry.created_at,
            "loyalty",
            _(
                "Points %(points)s (%(kind)s)",
                points=format_signed_number(entry.points),
                kind=labels.ledger_kind(entry.kind),
            ),
            entry.note or entry.reference,
        )


# --- surveys ------------------------------------------------------------------------------------------------


def _survey_entries(order: Order) -> Iterable[Entry]:
    from portal.surveys.models import SurveyResponse

    for response in db.session.scalars(select(SurveyResponse).where(SurveyResponse.order_id == order.id)):
        scores = []
        if response.nps is not None:
            scores.append(f"NPS {response.nps}/10")
        if response.csat is not None:
            scores.append(f"CSAT {response.csat}/5")
        yield Entry(
            response.responded_at,
            "survey",
            _("Survey answered: %(scores)s", scores=", ".join(scores) or "–"),
            response.comment,
        )


def _surveys_section(start: datetime, end: datetime) -> dashboard.Section | None:
    from sqlalchemy import case

    from portal.surveys.models import SurveyResponse

    promoters, detractors, answers = db.session.execute(
        select(
            func.sum(case((SurveyResponse.nps >= 9, 1), else_=0)),
            func.sum(case((SurveyResponse.nps <= 6, 1), else_=0)),
            func.count(SurveyResponse.nps),
        ).where(SurveyResponse.responded_at >= start, SurveyResponse.responded_at < end)
    ).one()
    csat_average, ratings = db.session.execute(
        select(func.avg(SurveyResponse.csat), func.count(SurveyResponse.csat)).where(
            SurveyResponse.responded_at >= start, SurveyResponse.responded_at < end
        )
    ).one()
    nps = (
        format_signed_number(round(100 * ((promoters or 0) - (detractors or 0)) / answers))
        if answers
        else "–"
    )
    csat = f"{format_number(float(csat_average), digits=1, min_digits=1)} / 5" if ratings else "–"
    return dashboard.Section(
        _("Customer satisfaction"),
        [
            (
                ngettext(
                    "NPS (%(count)s answer)", "NPS (%(count)s answers)", answers, count=format_number(answers)
                ),
                nps,
            ),
            (
                ngettext(
                    "CSAT, average delivery rating (%(count)s rating)",
                    "CSAT, average delivery rating (%(count)s ratings)",
                    ratings,
                    count=format_number(ratings),
                ),
                csat,
            ),
        ],
    )


def register() -> None:
    """Add the areas' parts to the back-office's extension points (once per process)."""
    if _returns_section in dashboard.DASHBOARD_SECTIONS:
        return
    search.ORDER_ID_SOURCES.append(_orders_by_rma)
    timeline.TIMELINE_SOURCES.extend((_return_entries, _loyalty_entries, _survey_entries))
    report_views.RETURNS_REVIEW_QUEUE.append(_review_queue)
    dashboard.DASHBOARD_SECTIONS.extend((_returns_section, _surveys_section))
