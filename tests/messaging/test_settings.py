"""The message settings: defaults as the issue sets them, and ranges refused at start-up."""

from __future__ import annotations

import pytest

from portal.config import ConfigError, load_settings


def test_the_defaults() -> None:
    config = load_settings({"PORTAL_ENV": "development"})
    assert (config["MESSAGE_FOLLOWUP_DAYS"], config["MESSAGE_SURVEY_DAYS"]) == (2, 7)
    assert config["MESSAGE_STALE_HOURS"] == 36
    assert (config["SMS_SEND_FROM_HOUR"], config["SMS_SEND_UNTIL_HOUR"]) == (9, 20)
    assert config["MESSAGE_RETRY_DELAYS"] == (60, 300, 1800, 7200, 21600)
    assert config["SMS_INBOUND_SECRET"] is None


def test_values_from_the_environment() -> None:
    environ = {"PORTAL_ENV": "development", "MESSAGE_FOLLOWUP_DAYS": "3", "MESSAGE_RETRY_DELAYS": "5, 10"}
    config = load_settings(environ)
    assert config["MESSAGE_FOLLOWUP_DAYS"] == 3
    assert config["MESSAGE_RETRY_DELAYS"] == (5, 10)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MESSAGE_FOLLOWUP_DAYS", "5", "MESSAGE_FOLLOWUP_DAYS"),
        ("MESSAGE_SURVEY_DAYS", "3", "MESSAGE_SURVEY_DAYS"),
        ("SMS_SEND_FROM_HOUR", "21", "SMS_SEND_FROM_HOUR"),
        ("MESSAGE_RETRY_DELAYS", "soon", "MESSAGE_RETRY_DELAYS"),
    ],
)
def test_values_out_of_range_are_refused(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"PORTAL_ENV": "development", name: value})
