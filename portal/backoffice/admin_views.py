"""Admin pages (settings, staff users, job health) and the audit log."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from portal import audit, shop_settings
from portal.accounts import service as accounts
from portal.accounts.models import STAFF_ROLES, User
from portal.audit import AuditEntry
from portal.backoffice import jobs
from portal.backoffice.forms import NewStaffForm, SettingForm, StaffAccessForm
from portal.backoffice.search import prefix_match
from portal.backoffice.views import (
    admin_required,
    bp,
    day_after,
    day_start,
    page_number,
    parse_day,
    staff_actor,
)
from portal.errors import DomainError, Invalid
from portal.extensions import db
from portal.htmx import render_page_or_block

AUDIT_PER_PAGE = 50

# --- settings -----------------------------------------------------------------------------------------------


def _setting_rows(
    errors: dict[str, str] | None = None, typed: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    overrides = shop_settings.override_rows()
    rows = []
    for name, spec in shop_settings.SPECS.items():
        value = shop_settings.get(name)
        rows.append(
            {
                "spec": spec,
                "text": (typed or {}).get(name, spec.as_text(value)),
                "default": spec.as_text(shop_settings.default(name)),
                "override": overrides.get(name),
                "error": (errors or {}).get(name),
            }
        )
    return rows


@bp.get("/settings")
@admin_required
def settings() -> Response:
    """Every shop setting with its current value, default and who changed it last."""
    return render_page_or_block("backoffice/settings.html", "content", rows=_setting_rows())


@bp.post("/settings/<name>")
@admin_required
def change_setting(name: str) -> Response:
    """Set one shop setting (validated; audited)."""
    if name not in shop_settings.SPECS:
        abort(404)
    form = SettingForm()
    raw = form.value.data or ""
    if not form.validate():
        return render_page_or_block(
            "backoffice/settings.html",
            "content",
            status=400,
            rows=_setting_rows({name: _("Reload the page and try again.")}),
        )
    try:
        shop_settings.set_value(name, raw, staff_actor())
    except Invalid as error:
        db.session.rollback()
        message = error.fields.get("value", error.message)
        flash(error.message, "error")
        return render_page_or_block(
            "backoffice/settings.html",
            "content",
            status=422,
            rows=_setting_rows({name: message}, {name: raw}),
        )
    db.session.commit()
    flash(_("%(setting)s was saved.", setting=shop_settings.SPECS[name].label), "success")
    return redirect(url_for(".settings", _anchor=f"setting-{name}"), 303)


@bp.post("/settings/<name>/reset")
@admin_required
def reset_setting(name: str) -> Response:
    """Go back to the configured default of one setting (audited)."""
    if name not in shop_settings.SPECS:
        abort(404)
    if shop_settings.reset(name, staff_actor()):
        db.session.commit()
        flash(_("%(setting)s is back to its default.", setting=shop_settings.SPECS[name].label), "success")
    return redirect(url_for(".settings", _anchor=f"setting-{name}"), 303)


# --- staff users --------------------------------------------------------------------------------------------


def _staff() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.email)))


def _render_staff(form: NewStaffForm | None = None, status: int = 200) -> Response:
    return render_page_or_block(
        "backoffice/staff.html",
        "content",
        status=status,
        users=_staff(),
        form=form or NewStaffForm(prefix="new"),
        access_form=StaffAccessForm,
    )


@bp.get("/staff")
@admin_required
def staff() -> Response:
    """Staff accounts: who may use the back-office, in which role."""
    return _render_staff()


@bp.post("/staff")
@admin_required
def add_staff() -> Response:
    """Create a staff account (agent or admin)."""
    form = NewStaffForm(prefix="new")
    if not form.validate():
        return _render_staff(form, 422)
    try:
        user = accounts.create_user(
            form.email.data or "",
            form.password.data or "",
            form.role.data or "agent",
            form.name.data or "",
            verified=True,
        )
    except DomainError as error:
        db.session.rollback()
        for name, text in (error.fields or {"email": error.message}).items():
            field = getattr(form, name, None)
            if field is not None:
                field.errors = [*field.errors, text]
        return _render_staff(form, error.status if error.status != 409 else 422)
    audit.record(
        staff_actor(), "staff.created", "user", user.id, None, {"email": user.email, "role": user.role}
    )
    db.session.commit()
    flash(_("%(email)s can now sign in to the back-office.", email=user.email), "success")
    return redirect(url_for(".staff"), 303)


@bp.post("/staff/<int:user_id>")
@admin_required
def change_staff(user_id: int) -> Response:
    """Change a staff member's role, or whether they may sign in (signing them out everywhere)."""
    user = db.session.get(User, user_id)
    if user is None or user.role not in STAFF_ROLES:
        abort(404)
    form = StaffAccessForm(prefix=f"user-{user.id}")
    if not form.validate():
        return _render_staff(status=422)
    if user.id == staff_actor().user_id and (form.role.data != "admin" or not form.active.data):
        flash(_("You cannot take away your own admin access."), "error")
        return _render_staff(status=409)
    before = {"role": user.role, "active": user.active}
    user.role = form.role.data or user.role
    user.active = bool(form.active.data)
    after = {"role": user.role, "active": user.active}
    if before != after:
        accounts.end_all_sessions(user)
        audit.record(staff_actor(), "staff.changed", "user", user.id, before, after)
        db.session.commit()
        flash(_("%(email)s was updated.", email=user.email), "success")
    return redirect(url_for(".staff"), 303)


# --- job health ---------------------------------------------------------------------------------------------


@bp.get("/jobs")
@admin_required
def job_health() -> Response:
    """Queue lengths, live workers and failed jobs."""
    return render_page_or_block(
        "backoffice/jobs.html",
        "content",
        queues=jobs.queue_health(),
        workers=jobs.workers(),
        failed=jobs.failed_jobs(),
    )


@bp.post("/jobs/<queue>/<job_id>/retry")
@admin_required
def retry_job(queue: str, job_id: str) -> Response:
    """Put a failed job back on its queue."""
    jobs.retry_job(queue, job_id, staff_actor())
    db.session.commit()
    flash(_("The job is queued again."), "success")
    return redirect(url_for(".job_health"), 303)


@bp.post("/jobs/<queue>/<job_id>/delete")
@admin_required
def delete_job(queue: str, job_id: str) -> Response:
    """Forget a failed job."""
    jobs.delete_job(queue, job_id, staff_actor())
    db.session.commit()
    flash(_("The job was deleted."), "success")
    return redirect(url_for(".job_health"), 303)


# --- audit log ----------------------------------------------------------------------------------------------


@bp.get("/audit")
def audit_log() -> Response:
    """Every audit entry, newest first, filtered by who, what, which object and when."""
    args = {
        name: (request.args.get(name) or "").strip()[:100]
        for name in ("actor", "action", "object_type", "object_id")
    }
    errors: dict[str, str] = {}
    first, error = parse_day("from")
    if error:
        errors["from"] = error
    last, error = parse_day("until")
    if error:
        errors["until"] = error
    conditions: list[Any] = []
    if args["actor"]:
        conditions.append(prefix_match(func.lower(AuditEntry.actor_label), args["actor"].lower()))
    if args["action"]:
        conditions.append(prefix_match(AuditEntry.action, args["action"]))
    if args["object_type"]:
        conditions.append(AuditEntry.object_type == args["object_type"])
    if args["object_id"]:
        conditions.append(AuditEntry.object_id == args["object_id"])
    if first:
        conditions.append(AuditEntry.at >= day_start(first))
    if last:
        conditions.append(AuditEntry.at < day_after(last))
    if errors:
        return render_page_or_block(
            "backoffice/audit.html",
            "content",
            status=422,
            errors=errors,
            entries=[],
            page=1,
            pages=1,
            total=0,
        )
    total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    pages = max(1, -(-total // AUDIT_PER_PAGE))
    page = min(page_number(), pages)
    entries = db.session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(AUDIT_PER_PAGE)
        .offset((page - 1) * AUDIT_PER_PAGE)
    ).all()
    return render_page_or_block(
        "backoffice/audit.html",
        "content",
        errors=errors,
        entries=entries,
        page=page,
        pages=pages,
        total=total,
    )
