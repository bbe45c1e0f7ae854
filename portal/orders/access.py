"""Who may see an order: its owner, a guest holding a grant for it in this browser session, and staff.

Everyone else gets 404, never 403, so the answer does not confirm that an order exists. Every route that
shows or changes an order (or an object of one: shipment, return, label, survey) loads it through
`order_for_viewer`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, session
from flask_login import current_user
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.orders.models import Order

_GRANTS_KEY = "order_grants"


@dataclass(frozen=True)
class Viewer:
    """The acting person as services see it: passed explicitly, never read from globals by a service."""

    user_id: int | None = None
    role: str | None = None
    granted_order_ids: frozenset[int] = field(default_factory=frozenset)
    label: str = "guest"

    @property
    def is_staff(self) -> bool:
        return self.role in ("agent", "admin")

    def may_see(self, order: Order) -> bool:
        if self.is_staff:
            return True
        if self.user_id is not None and order.customer_id == self.user_id:
            return True
        return order.id in self.granted_order_ids

    def is_guest_for(self, order: Order) -> bool:
        """True when access comes only from a lookup grant (the page then masks and prompts to sign in)."""
        return not self.is_staff and (self.user_id is None or order.customer_id != self.user_id)

    def kind_for(self, order: Order) -> str:
        """Who the order's page is for ("guest", "owner" or "staff"), as far as it changes the page."""
        if self.is_guest_for(order):
            return "guest"
        return "owner" if self.user_id == order.customer_id else "staff"


def _grant_lifetime() -> int:
    return int(current_app.config["GUEST_GRANT_HOURS"]) * 3600


def _live_grants() -> dict[str, float]:
    grants: Any = session.get(_GRANTS_KEY) or {}
    if not isinstance(grants, dict):
        return {}
    now = clock.now().timestamp()
    return {key: expiry for key, expiry in grants.items() if isinstance(expiry, int | float) and expiry > now}


def grant_order_access(order_id: int) -> None:
    """Let this browser session see one order for a few hours (after a lookup or a magic link)."""
    grants = _live_grants()
    grants[str(order_id)] = clock.now().timestamp() + _grant_lifetime()
    session[_GRANTS_KEY] = grants


def granted_order_ids() -> frozenset[int]:
    return frozenset(int(key) for key in _live_grants() if key.isdigit())


def current_viewer() -> Viewer:
    """The viewer of this request: the signed-in user (if any) plus the guest grants of this session."""
    grants = granted_order_ids()
    if current_user.is_authenticated:
        return Viewer(current_user.id, current_user.role, grants, label=current_user.email)
    return Viewer(None, None, grants)


def order_for_viewer(number: str, options: Iterable[Any] = ()) -> Order:
    """The order `number` if the current viewer may see it, else abort with 404."""
    order = db.session.scalar(select(Order).where(Order.number == number).options(*options))
    if order is None or not current_viewer().may_see(order):
        abort(404)
    return order
