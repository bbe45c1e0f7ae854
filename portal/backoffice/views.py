"""Back-office pages (staff only): the blueprint, who may open it, and the search start page.

Everyone but staff gets 404 on every /backoffice route, so the back-office does not reveal itself. Pages for
admins only answer agents with 403. A staff session that has not opened a back-office page for
BACKOFFICE_IDLE_MINUTES is signed out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from markupsafe import Markup
from werkzeug.wrappers import Response

from portal import clock
from portal.audit import Actor
from portal.backoffice import labels, search
from portal.htmx import render_page_or_block
from portal.i18n import current_locale
from portal.orders.models import ORDER_STATUSES

bp = Blueprint("backoffice", __name__, url_prefix="/backoffice")


@bp.context_processor
def _labels() -> dict[str, Any]:
    """The reader's words for stored codes, for every back-office template (portal.backoffice.labels)."""
    return {"labels": labels}


LAST_SEEN_KEY = "_backoffice_seen_at"
F = TypeVar("F", bound=Callable[..., Any])


@bp.before_request
def staff_only() -> Response | None:
    """404 for anyone but staff; sign out a staff session idle for too long."""
    if not current_user.is_authenticated or not current_user.is_staff:
        abort(404)
    now = clock.now().timestamp()
    seen = session.get(LAST_SEEN_KEY)
    idle_limit = int(current_app.config["BACKOFFICE_IDLE_MINUTES"]) * 60
    if isinstance(seen, int | float) and now - seen > idle_limit:
        logout_user()
        session.clear()
        flash(
            _("You were signed out after %(minutes)d minutes without activity.", minutes=idle_limit // 60),
            "info",
        )
        return redirect(
            url_for("accounts.login", next=request.full_path if request.method == "GET" else None), 303
        )
    session[LAST_SEEN_KEY] = now
    return None


def admin_required(view: F) -> F:
    """Admins only; agents get 403 (they know the back-office exists)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_user.role != "admin":
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def staff_actor() -> Actor:
    return Actor.user(current_user.id, current_user.email)


@bp.app_template_global()
def backoffice_is_admin() -> bool:
    return bool(current_user.is_authenticated and current_user.role == "admin")


@bp.app_template_global()
def backoffice_has_endpoint(endpoint: str) -> bool:
    """Whether another area's page exists yet (the navigation links to it only then)."""
    return endpoint in current_app.view_functions


@bp.app_template_global()
def backoffice_nav() -> Markup:
    """The navigation, rendered once per language, page and role: it shows nothing else, and every back-office
    page would otherwise spend a third of a millisecond on its ten links."""
    key = (current_locale(), request.script_root, request.endpoint, backoffice_is_admin())
    rendered: dict[tuple[str, str, str | None, bool], str] = current_app.extensions.setdefault(
        "backoffice_nav", {}
    )
    html = rendered.get(key)
    if html is None:
        html = rendered[key] = render_template("backoffice/_nav_links.html")
    # Markup: rendered by Jinja with autoescaping.
    return Markup(html)  # noqa: S704  # nosec B704


# --- parsing query strings ----------------------------------------------------------------------------------


def parse_day(name: str) -> tuple[date | None, str | None]:
    """A YYYY-MM-DD query argument: (date, None), (None, None) when absent, (None, message) when wrong."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None, None
    try:
        return date.fromisoformat(raw), None
    except ValueError:
        return None, _("Enter a date as YYYY-MM-DD.")


def day_start(day: date) -> datetime:
    """Midnight at the start of `day` in the staff member's time zone, as an aware datetime."""
    zone = ZoneInfo(str(get_timezone()))
    return datetime.combine(day, time(0), tzinfo=zone)


def day_after(day: date) -> datetime:
    return day_start(day + timedelta(days=1))


def page_number() -> int:
    page = request.args.get("page", 1, type=int)
    return page if page and page > 0 else 1


# --- search -------------------------------------------------------------------------------------------------


@bp.get("/")
def index() -> Response:
    """Find any order: one box, filters, live results as you type (htmx), paginated."""
    query = (request.args.get("q") or "").strip()[: search.MAX_QUERY_LENGTH]
    status = request.args.get("status") or None
    errors: dict[str, str] = {}
    if status is not None and status not in ORDER_STATUSES:
        errors["status"] = _("Choose a status from the list.")
    placed_from, error = parse_day("from")
    if error:
        errors["from"] = error
    placed_until, error = parse_day("until")
    if error:
        errors["until"] = error
    if placed_from and placed_until and placed_until < placed_from:
        errors["until"] = _("The end date must not be before the start date.")
    exception = request.args.get("exception") == "1"
    if errors:
        return render_page_or_block(
            "backoffice/index.html",
            "results",
            status=422,
            errors=errors,
            result=None,
            args=request.args,
            statuses=ORDER_STATUSES,
        )
    filters = search.Filters(
        query=query,
        status=status,
        exception=exception,
        placed_from=day_start(placed_from) if placed_from else None,
        placed_until=day_after(placed_until) if placed_until else None,
    )
    result = search.search_orders(filters, page=page_number())
    return render_page_or_block(
        "backoffice/index.html",
        "results",
        errors=errors,
        result=result,
        args=request.args,
        statuses=ORDER_STATUSES,
    )


# The other pages register their routes on `bp` when imported; the other areas join in through `register`.
from portal.backoffice import admin_views, area_views, integrations, order_views, report_views  # noqa: E402, F401

integrations.register()
area_views.register()
