"""Connects the areas' reactions to each other's signals, so no area imports one above it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from portal.backoffice import receivers as backoffice_receivers
from portal.loyalty import receivers as loyalty_receivers
from portal.messaging import receivers as messaging_receivers
from portal.orders import signals as order_signals
from portal.returns import receivers as returns_receivers
from portal.surveys import receivers as surveys_receivers

log = logging.getLogger("portal.events")


def _log_shipment_status(shipment: Any, previous: str | None, status: str, **_: Any) -> None:
    log.info("shipment %s: %s -> %s", shipment.tracking_number, previous, status)


def connect(app: Flask) -> None:
    """Wire receivers once per process; blinker keeps them (weakly) unless told otherwise."""
    if app.extensions.get("portal_signals_connected"):
        return
    order_signals.shipment_status_changed.connect(_log_shipment_status, weak=False)
    messaging_receivers.connect()
    returns_receivers.connect()
    loyalty_receivers.connect()
    surveys_receivers.connect()
    backoffice_receivers.connect()
    app.extensions["portal_signals_connected"] = True
