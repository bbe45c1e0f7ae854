"""The loyalty area's reactions to other areas' signals.

- A shipment delivered: its lines earn points (pending until the return window closes), once per line.
- Returned items received: the points of exactly those lines are clawed back, and the shopper sees why.
- A survey answered: the survey bonus, once per invitation (guests earn nothing).
- The `points_expiring` e-mail: its template values (the expiry date, the link to the loyalty page).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from portal.loyalty import service, tasks
from portal.messaging import signals as messaging_signals
from portal.orders import signals as order_signals
from portal.returns import signals as return_signals
from portal.surveys import signals as survey_signals
from portal.urls import external_url


def shipment_status_changed(shipment: Any, status: str | None = None, **_: Any) -> None:
    if status == "delivered":
        service.award_shipment_points(shipment)


def return_received(return_: Any, lines: list[tuple[int, int]] | None = None, **_: Any) -> None:
    reference = str(getattr(return_, "rma", None) or return_.id)
    service.claw_back_returned_lines(f"return-{return_.id}", reference, lines or [])


def survey_responded(
    response: Any, invitation_id: int, order_id: int | None = None, customer_id: int | None = None, **_: Any
) -> None:
    service.award_survey_bonus(invitation_id, order_id, customer_id)


def reminder_context(message: Any, **_: Any) -> dict[str, Any] | None:
    if message.step != tasks.REMINDER_STEP:
        return None
    context = message.context or {}
    expires_at = context.get("expires_at")
    return {
        "points": int(context.get("points") or 0),
        # A calendar date: the e-mails format dates, not datetimes, in the message's time zone.
        "expires_on": datetime.fromisoformat(expires_at).date() if isinstance(expires_at, str) else None,
        "loyalty_url": external_url("loyalty.page"),
    }


def connect() -> None:
    """Connect this area's receivers (called once per process from portal.signals_wiring)."""
    order_signals.shipment_status_changed.connect(shipment_status_changed, weak=False)
    return_signals.return_received.connect(return_received, weak=False)
    survey_signals.survey_responded.connect(survey_responded, weak=False)
    messaging_signals.message_context.connect(reminder_context, weak=False)
