"""Settings parsing and the production safety checks."""

from __future__ import annotations

import pytest

from portal.config import DEVELOPMENT_SECRET_KEY, ConfigError, load_settings

STRONG = "x" * 40
SERVERS = {"DATABASE_URL": "postgresql://u@db/doorstep", "REDIS_URL": "redis://redis:6379/0"}


def test_production_refuses_the_development_secret_key() -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"PORTAL_ENV": "production"})
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load_settings({"PORTAL_ENV": "production", "SECRET_KEY": DEVELOPMENT_SECRET_KEY})
    with pytest.raises(ConfigError, match="32 characters"):
        load_settings({"PORTAL_ENV": "production", "SECRET_KEY": "short"})


def test_production_cookies_are_secure_and_host_prefixed() -> None:
    config = load_settings({"PORTAL_ENV": "production", "SECRET_KEY": STRONG, **SERVERS})
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_NAME"] == "__Host-session"
    assert config["REMEMBER_COOKIE_SECURE"] is True
    assert config["SEND_HSTS"] is True


def test_development_defaults_to_sqlite_under_instance(tmp_path: object) -> None:
    config = load_settings({"PORTAL_ENV": "development"}, instance_path=str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/portal.db"
    assert config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY
    assert config["SESSION_COOKIE_SECURE"] is False


def test_postgres_urls_get_the_psycopg_driver() -> None:
    config = load_settings({"PORTAL_ENV": "development", "DATABASE_URL": "postgres://u@h/db"})
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"PORTAL_ENV": "staging"}, "PORTAL_ENV"),
        ({"PORTAL_ENV": "development", "MAIL_PORT": "twenty-five"}, "MAIL_PORT"),
        ({"PORTAL_ENV": "development", "MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS"),
        ({"PORTAL_ENV": "development", "SMS_BACKEND": "pigeon"}, "SMS_BACKEND"),
        ({"PORTAL_ENV": "development", "DEFAULT_TIMEZONE": "Mars/Olympus"}, "DEFAULT_TIMEZONE"),
        ({"PORTAL_ENV": "development", "DEFAULT_LOCALE": "xx"}, "DEFAULT_LOCALE"),
    ],
)
def test_bad_values_name_the_setting(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ)


def test_typed_values_are_parsed() -> None:
    config = load_settings({"PORTAL_ENV": "development", "MAIL_PORT": "2525", "MAIL_USE_TLS": "yes"})
    assert (config["MAIL_PORT"], config["MAIL_USE_TLS"]) == (2525, True)


def test_production_needs_real_database_and_redis() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL and REDIS_URL must be set"):
        load_settings({"PORTAL_ENV": "production", "SECRET_KEY": STRONG})
    with pytest.raises(ConfigError, match="REDIS_URL must be set"):
        load_settings(
            {"PORTAL_ENV": "production", "SECRET_KEY": STRONG, "DATABASE_URL": "postgresql://u@db/x"}
        )
