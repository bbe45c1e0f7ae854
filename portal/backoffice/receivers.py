"""The backoffice area's reactions to other areas' signals: a message due for an order whose sequence staff
stopped, or of a step the shop switched off, is skipped."""

from __future__ import annotations

from typing import Any

from portal import shop_settings
from portal.extensions import db
from portal.messaging import signals as messaging_signals

STOPPED_BY_STAFF = "stopped_by_staff"
STEP_DISABLED = "step_disabled"


def veto_message(message: Any, order: Any, step: Any, **_: Any) -> str | None:
    """The reason to skip a due message, or None to let it go."""
    from portal.backoffice.models import SequenceStop

    if step.name in shop_settings.get("MESSAGE_DISABLED_STEPS"):
        return STEP_DISABLED
    if db.session.get(SequenceStop, order.id) is not None:
        return STOPPED_BY_STAFF
    return None


def connect() -> None:
    """Connect this area's receivers (called once per process from portal.signals_wiring)."""
    messaging_signals.message_due.connect(veto_message, weak=False)
