"""The shopper's loyalty page: balance, tier and progress, what expires soon, history, rewards, birthday."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from portal import fragments
from portal.audit import Actor
from portal.errors import DomainError
from portal.extensions import db
from portal.htmx import render_page_or_block, wants_fragment
from portal.loyalty import presenters, service, spending
from portal.loyalty.forms import BirthdayForm, RedeemForm
from portal.orders.access import granted_order_ids
from portal.orders.models import Order

bp = Blueprint("loyalty", __name__)


@bp.app_template_global()
def order_loyalty_points(order: Order) -> presenters.OrderPoints | None:
    """The points of one order, for the include on the order page (one statement)."""
    return presenters.order_points(order)


def _is_shopper() -> bool:
    return bool(current_user.is_authenticated and current_user.role == "shopper")


def _context(older_than: int | None, **forms: Any) -> dict[str, Any]:
    view = presenters.present_loyalty(current_user.id, older_than)
    redeem = forms.get("redeem") or RedeemForm(formdata=None)
    redeem.offer(view.options, view.currency, view.balance.available)
    birthday = forms.get("birthday") or BirthdayForm(formdata=None, data={"birthday": view.birthday})
    return {"view": view, "redeem_form": redeem, "birthday_form": birthday, "shopper": True}


def _page(status: int = 200, *, code: spending.RedeemedCode | None = None, **forms: Any) -> Response:
    older_than = request.args.get("before", type=int)
    if older_than is not None and older_than <= 0:
        abort(404)
    if older_than is not None and wants_fragment():
        view = presenters.present_loyalty(current_user.id, older_than)
        return render_page_or_block("loyalty/page.html", "history_rows", view=view)
    if status == 200 and code is None and not forms and not wants_fragment():
        # The plain page: stored until the shopper's points or orders change (portal/fragments.py).
        return fragments.render_page_or_block(
            "loyalty/page.html",
            "content",
            f"customer:{current_user.id}",
            ("loyalty", str(older_than)),
            lambda: _context(older_than),
            shopper=True,
        )
    response = make_response(
        render_template("loyalty/page.html", code=code, **_context(older_than, **forms)), status
    )
    response.vary.add("HX-Request")
    if code is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/loyalty")
def page() -> Response:
    """Points, tier, history and rewards for a shopper; anyone else is invited to create an account."""
    if not _is_shopper():
        context = {
            "shopper": False,
            "staff": bool(current_user.is_authenticated),
            "guest": bool(granted_order_ids()),
        }
        return make_response(render_template("loyalty/page.html", **context), 200)
    return _page()


@bp.post("/loyalty/redeem")
@login_required
def redeem() -> Response:
    """Trade points for a store-credit code, shown once on the page that answers."""
    if not _is_shopper():
        abort(403)
    form = RedeemForm()
    view = presenters.present_loyalty(current_user.id)
    form.offer(view.options, view.currency, view.balance.available)
    if not form.validate_on_submit():
        return _page(422, redeem=form)
    try:
        code = spending.redeem_points(
            current_user.id, form.points.data, Actor.user(current_user.id, current_user.email)
        )
    except DomainError as error:
        db.session.rollback()
        if error.code == "not_enough_points":
            form.points.errors = [_("You do not have enough points available for this reward yet.")]
        else:
            form.points.errors = [_("Choose one of the rewards offered.")]
        return _page(409 if error.status == 409 else 422, redeem=form)
    db.session.commit()
    return _page(code=code)


@bp.post("/loyalty/birthday")
@login_required
def set_birthday() -> Response:
    """Save (or clear) the birthday for the birthday bonus."""
    if not _is_shopper():
        abort(403)
    form = BirthdayForm()
    if not form.validate_on_submit():
        return _page(422, birthday=form)
    try:
        service.set_birthday(current_user.id, form.birthday.data)
    except DomainError:
        db.session.rollback()
        form.birthday.errors = [_("Enter a real date of birth.")]
        return _page(422, birthday=form)
    db.session.commit()
    flash(_("Your birthday is saved."), "success")
    return redirect(url_for("loyalty.page", _anchor="birthday-bonus"), 303)
