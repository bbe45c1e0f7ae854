"""Settings a shop's admins may change in the back-office (return window, reason codes, loyalty rates, …).

Every area reads them through `get(name)`, never `current_app.config` directly, so an admin's change in the
back-office applies everywhere. The defaults are the configuration (`portal.config`, i.e. the environment).
"""

from __future__ import annotations

from typing import Any

from flask import current_app


def get(name: str) -> Any:
    """The current value of a shop setting."""
    return current_app.config[name]
