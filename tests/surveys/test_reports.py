"""Staff reports: NPS on a known sample, the weekly trend and CSAT charts (SVG with title, description and a
table), comments with score filters, the CSV export with formulas neutralised; 404 for everyone else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bs4 import BeautifulSoup
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.orders.models import Order
from portal.surveys import reports
from portal.surveys.models import SurveyResponse
from tests.messaging.conftest import place_order
from tests.orders.test_views import shopper, sign_in

# Ten answers: 4 promoters (9, 9, 10, 10), 3 passives (7, 8, 8), 3 detractors (0, 5, 6): NPS = 40 - 30 = 10.
SAMPLE = [9, 9, 10, 10, 7, 8, 8, 0, 5, 6]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


def page(response: Any) -> BeautifulSoup:
    return BeautifulSoup(response.data, "html.parser")


def add_responses(api: Any, answers: list[tuple[int | None, int | None, str | None, datetime]]) -> None:
    """One order per answer (nps, csat, comment, answered at), stored as the survey page would."""
    first = int(db.session.scalar(select(func.count()).select_from(Order)) or 0)
    for index, (nps, csat, comment, at) in enumerate(answers, start=first):
        number = f"{2000 + index}"
        place_order(api, number, email=f"c{index}@example.com")
        order_id = db.session.scalar(select(Order.id).where(Order.number == number))
        db.session.add(
            SurveyResponse(
                order_id=order_id,
                nps=nps,
                csat=csat,
                comment=comment,
                responded_at=at,
                answered_at=at if nps is not None else None,
                rated_at=at if nps is None else None,
            )
        )
        db.session.commit()


@pytest.fixture
def staff(client: Any) -> Any:
    sign_in(client, shopper("agent@example.com", role="agent"))
    return client


def test_nps_of_a_known_sample() -> None:
    summary = reports.nps_of(SAMPLE)
    assert (summary.promoters, summary.passives, summary.detractors, summary.total) == (4, 3, 3, 10)
    assert summary.score == 10
    assert reports.nps_of([10] * 10).score == 100 and reports.nps_of([0] * 10).score == -100
    assert reports.nps_of([]).score is None
    assert reports.nps_of([9, 9, 7]).score == 67  # 66.67 rounds half away from zero


def test_the_report_shows_the_nps_of_the_period_with_its_counts(api: Any, staff: Any) -> None:
    with clock.freeze(NOW):
        add_responses(
            api, [(score, None, None, NOW - timedelta(days=1 + i)) for i, score in enumerate(SAMPLE)]
        )
        add_responses(api, [(0, None, None, NOW - timedelta(days=200))])  # outside the default period
        html = page(staff.get("/backoffice/surveys"))
    figure = html.select_one(".report-figure")
    assert figure.strong.text == "10" and "from 10 answers" in figure.text
    counts = html.select_one(".report-counts").text
    assert "4 (40%)" in counts and "3 (30%)" in counts
    with clock.freeze(NOW):
        narrow = page(staff.get("/backoffice/surveys?from=2026-11-18&to=2026-11-20"))
    assert narrow.select_one(".report-figure").strong.text == "100"  # only the two 9s of the last two days


def test_the_charts_are_accessible_svg_with_a_table(api: Any, staff: Any) -> None:
    with clock.freeze(NOW):
        add_responses(
            api,
            [
                (10, 5, None, NOW - timedelta(days=1)),
                (0, 1, None, NOW - timedelta(days=8)),
                (None, 4, None, NOW - timedelta(days=2)),
            ],
        )
        html = page(staff.get("/backoffice/surveys"))
    for chart_id in ("nps-trend", "csat-distribution"):
        svg = html.select_one(f'svg[aria-labelledby="{chart_id}-title {chart_id}-desc"]')
        assert svg is not None and svg["role"] == "img"
        assert svg.select_one(f"title#{chart_id}-title").text and svg.select_one(f"desc#{chart_id}-desc").text
    trend_rows = html.select("#nps-trend-caption ~ details tbody tr")
    assert len(trend_rows) == 12  # twelve weeks, the empty ones too
    assert [r.td.text for r in trend_rows[-2:]] == ["-100", "100"]
    assert len(html.select(".chart__line")) >= 1 and len(html.select(".chart__dot")) == 2
    csat_rows = [(r.th.text, r.td.text) for r in html.select("#csat-distribution details tbody tr")]
    assert csat_rows == [
        ("1 star", "1"),
        ("2 stars", "0"),
        ("3 stars", "0"),
        ("4 stars", "1"),
        ("5 stars", "1"),
    ]
    assert len(html.select(".chart__bar")) == 5


def test_comments_with_score_filters(api: Any, staff: Any) -> None:
    with clock.freeze(NOW):
        add_responses(
            api,
            [
                (2, None, "Late and damaged", NOW - timedelta(days=1)),
                (8, None, "Fine, a bit slow", NOW - timedelta(days=2)),
                (10, None, "Perfect", NOW - timedelta(days=3)),
                (10, None, None, NOW - timedelta(days=3)),
            ],
        )
        everything = page(staff.get("/backoffice/surveys/comments"))
        detractors = page(staff.get("/backoffice/surveys/comments?band=detractor"))
        tens = page(staff.get("/backoffice/surveys/comments?score=10"))
        bad = staff.get("/backoffice/surveys/comments?score=11&from=yesterday")
    texts = [q.text for q in everything.select(".survey-comment__text")]
    assert texts == ["Late and damaged", "Fine, a bit slow", "Perfect"]
    assert [q.text for q in detractors.select(".survey-comment__text")] == ["Late and damaged"]
    assert [q.text for q in tens.select(".survey-comment__text")] == ["Perfect"]
    assert bad.status_code == 422
    assert len(page(bad).select(".field-error")) == 2


def test_the_csv_export_neutralises_formulas(api: Any, staff: Any) -> None:
    hostile = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd", "fine = ok"]
    with clock.freeze(NOW):
        add_responses(api, [(5, 3, text, NOW - timedelta(hours=i + 1)) for i, text in enumerate(hostile)])
        # Streamed: read it inside the request's context, as a server would.
        exported = staff.get("/backoffice/surveys/export.csv", buffered=True)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    comments = sorted(row["comment"] for row in rows)
    assert comments == sorted(
        ['\'=HYPERLINK("http://evil")', "'+1+1", "'-2+3", "'@SUM(A1)", "'\tcmd", "'\rcmd", "fine = ok"]
    )
    assert {row["nps"] for row in rows} == {"5"} and {row["band"] for row in rows} == {"detractor"}
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


@pytest.mark.parametrize(
    "path", ["/backoffice/surveys", "/backoffice/surveys/comments", "/backoffice/surveys/export.csv"]
)
@pytest.mark.parametrize("who", ["anonymous", "shopper", "agent", "admin"])
def test_reports_are_for_staff_only(client: Any, path: str, who: str) -> None:
    if who != "anonymous":
        sign_in(client, shopper(f"{who}@example.com", role="shopper" if who == "shopper" else who))
    expected = 200 if who in ("agent", "admin") else 404
    assert client.get(path, buffered=True).status_code == expected
