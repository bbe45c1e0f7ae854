"""Doorstep: a self-hosted post-purchase portal. `create_app` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import load_dotenv
from flask import Flask

from portal.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application; `config` overrides settings read from the environment (tests pass a dict)."""
    load_dotenv(ROOT / ".env", override=False)
    instance_path = str(
        (config or {}).get("INSTANCE_PATH") or os.environ.get("PORTAL_INSTANCE_PATH") or ROOT / "instance"
    )
    app = Flask(
        __name__,
        instance_path=instance_path,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.config.from_mapping(load_settings(overrides=config, instance_path=instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from portal import logging_setup

    logging_setup.init_app(app)
    _init_extensions(app)
    _register_blueprints(app)

    from portal import cli, errors_pages, fragments, rate_limits, security, shop_settings, signals_wiring

    errors_pages.init_app(app)
    fragments.init_app(app)
    shop_settings.init_app(app)
    rate_limits.init_app(app)
    security.init_app(app)
    cli.init_app(app)
    signals_wiring.connect(app)
    return app


def _init_extensions(app: Flask) -> None:
    from werkzeug.middleware.proxy_fix import ProxyFix

    from portal import i18n, models  # noqa: F401 - every model must be imported before migrations run
    from portal.extensions import babel, csrf, db, htmx, login_manager, migrate

    if app.config["PROXY_FIX_HOPS"]:
        hops = app.config["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.init_app(app)
    login_manager.init_app(app)
    _init_limiter(app)

    from portal.accounts.models import User

    @login_manager.user_loader
    def load_user(auth_id: str) -> User | None:
        from sqlalchemy import select

        return db.session.scalar(select(User).where(User.auth_id == auth_id, User.active.is_(True)))


def _init_limiter(app: Flask) -> None:
    from portal.extensions import limiter

    if not app.config.get("RATELIMIT_STORAGE_URI"):
        url = app.config.get("REDIS_URL")
        if url:
            app.config["RATELIMIT_STORAGE_URI"] = url.replace("unix://", "redis+unix://", 1)
        else:
            from portal import embedded_redis

            sock = embedded_redis.ensure_running(app.instance_path)
            app.config["RATELIMIT_STORAGE_URI"] = sock.replace("unix://", "redis+unix://", 1)
    limiter.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from werkzeug.routing import BaseConverter

    from portal.api.schemas import IDENTIFIER

    class ReferenceConverter(BaseConverter):
        """An order number or tracking number in a URL; anything else (NUL, slashes, 300 chars) is a 404."""

        regex = IDENTIFIER.strip("^$")

    app.url_map.converters["ref"] = ReferenceConverter
    from portal.accounts.views import bp as accounts_bp
    from portal.api.views import bp as api_bp
    from portal.backoffice.views import bp as backoffice_bp
    from portal.loyalty.views import bp as loyalty_bp
    from portal.main import bp as main_bp
    from portal.messaging.views import bp as messaging_bp
    from portal.orders.guest_views import bp as guest_bp
    from portal.orders.instruction_views import bp as instructions_bp
    from portal.orders.views import bp as orders_bp
    from portal.returns.views import bp as returns_bp
    from portal.surveys.views import bp as surveys_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(guest_bp)
    app.register_blueprint(orders_bp)
    app.register_blueprint(instructions_bp)
    app.register_blueprint(messaging_bp)
    app.register_blueprint(returns_bp)
    app.register_blueprint(loyalty_bp)
    app.register_blueprint(surveys_bp)
    app.register_blueprint(backoffice_bp)
    app.register_blueprint(api_bp, url_prefix="/api/v1")
