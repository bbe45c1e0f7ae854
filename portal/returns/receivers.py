"""The returns area's reactions to other areas' signals."""

from __future__ import annotations


def connect() -> None:
    """Connect this area's receivers (called once per process from portal.signals_wiring)."""
