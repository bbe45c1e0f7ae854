"""Staff reports on survey answers (agents and admins; everyone else gets 404): NPS and CSAT for a period,
the comments, and the CSV export. Linked from the back-office."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import Response, abort, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user

from portal import clock
from portal.htmx import render_page_or_block
from portal.surveys import reports
from portal.surveys.views import bp


def _require_staff() -> None:
    if not (current_user.is_authenticated and current_user.role in ("agent", "admin")):
        abort(404)


@dataclass(frozen=True)
class Filters:
    period: reports.Period
    band: str | None
    score: int | None
    errors: dict[str, str]

    def query(self, **extra: Any) -> dict[str, Any]:
        """The filters as URL parameters (for links that keep them)."""
        values: dict[str, Any] = {"from": self.period.first.isoformat(), "to": self.period.last.isoformat()}
        if self.band:
            values["band"] = self.band
        if self.score is not None:
            values["score"] = self.score
        values.update(extra)
        return values


def _date(name: str, default: date, errors: dict[str, str]) -> date:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Enter a date like 2026-10-31.")
        return default


def _filters() -> Filters:
    """The period and score filters from the query string; problems are listed, never a 500."""
    errors: dict[str, str] = {}
    today = clock.now().astimezone(reports.shop_zone()).date()
    default = reports.default_period(today)
    first = _date("from", default.first, errors)
    last = _date("to", default.last, errors)
    if not errors and first > last:
        errors["to"] = _("The end of the period must not be before its start.")
    elif not errors and (last - first).days + 1 > reports.MAX_PERIOD_DAYS:
        errors["to"] = _("Choose a period of at most %(days)d days.", days=reports.MAX_PERIOD_DAYS)
    if errors:
        first, last = default.first, default.last
    band = request.args.get("band") or None
    if band is not None and band not in reports.BANDS:
        errors["band"] = _("Choose one of the listed groups.")
        band = None
    score: int | None = None
    raw_score = request.args.get("score", "").strip()
    if raw_score:
        if raw_score.isdigit() and 0 <= int(raw_score) <= 10:
            score = int(raw_score)
        else:
            errors["score"] = _("Choose a score from 0 to 10.")
    return Filters(reports.Period(first, last), band, score, errors)


@bp.get("/backoffice/surveys")
def report() -> Response:
    """NPS with its counts, the weekly NPS trend and the CSAT distribution for a period."""
    _require_staff()
    filters = _filters()
    summary = reports.period_nps(filters.period)
    weeks = reports.weekly_nps(filters.period)
    csat = reports.csat_distribution(filters.period)
    return render_page_or_block(
        "surveys/report.html",
        "report",
        status=422 if filters.errors else 200,
        filters=filters,
        summary=summary,
        weeks=weeks,
        csat=csat,
        csat_total=sum(csat.values()),
    )


@bp.get("/backoffice/surveys/comments")
def survey_comments() -> Response:
    """The comments of a period, filtered by NPS group or score, newest first."""
    _require_staff()
    filters = _filters()
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    per_page = 50
    found, total = reports.comments(filters.period, filters.band, filters.score, page=page, per_page=per_page)
    pages = max(1, -(-total // per_page))
    if page > pages:
        abort(404)
    return render_page_or_block(
        "surveys/comments.html",
        "comments",
        status=422 if filters.errors else 200,
        filters=filters,
        responses=found,
        total=total,
        page=page,
        pages=pages,
    )


@bp.get("/backoffice/surveys/export.csv")
def survey_export() -> Response:
    """Every response of the period (same filters) as CSV; cells that would be formulas are neutralised."""
    _require_staff()
    filters = _filters()
    if filters.errors:
        abort(400)
    name = f"survey-responses-{filters.period.first.isoformat()}-{filters.period.last.isoformat()}.csv"
    body = stream_with_context(reports.export_csv(filters.period, filters.band, filters.score))
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response
