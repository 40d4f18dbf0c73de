"""The Partner Portal application factory."""

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import BASE_DIR, DEVELOPMENT_SECRET_KEY, DevelopmentConfig


def create_app(config: object | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(BASE_DIR / "instance"),
        template_folder=str(BASE_DIR / "templates"),
    )
    app.config.from_object(config or DevelopmentConfig)
    if app.config["REQUIRE_SECRET_KEY"] and app.config["SECRET_KEY"] == DEVELOPMENT_SECRET_KEY:
        raise RuntimeError("Set SECRET_KEY to a long random value to run in production.")

    if app.config["TRUSTED_PROXY_COUNT"]:
        proxies = app.config["TRUSTED_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)

    from app import formatting, ratelimit  # noqa: F401 - ratelimit: the database:// storage

    # Every domain's tables, so that migrations and relationships see all of them.
    from app.events import models as _event_models  # noqa: F401
    from app.extensions import csrf, db, htmx, limiter, login_manager, migrate
    from app.ledger import models as _ledger_models  # noqa: F401
    from app.payments import gateways
    from app.payments import models as _payment_models  # noqa: F401
    from app.payments.gateways import sandbox_models as _sandbox_models  # noqa: F401

    db.init_app(app)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.session_protection = None  # sessions are server-side rows, see accounts
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    formatting.init_app(app)
    gateways.init_app(app)

    from app.web import init_url_converters

    init_url_converters(app)

    from app import (
        accounts,
        audit,
        billing,
        changes,
        credit,
        dashboard,
        demo,
        erp,
        health,
        kb,
        payments,
        reconcile,
        search,
    )
    from app.accounts import users_routes
    from app.billing import legacy_cli
    from app.payments.gateways import cli as payment_keys_cli
    from app.payments.gateways import hosted_pages

    for module in (accounts, users_routes, audit, billing, legacy_cli, changes, credit, dashboard,
                   demo, erp, health, kb, payments, search, payment_keys_cli, hosted_pages):
        app.register_blueprint(module.bp)
    reconcile.init_app(app)

    from app.erp.api.registration import init_api

    init_api(app)

    from app import navigation
    from app.errors import init_errors
    from app.web import init_web

    init_web(app)
    init_errors(app)
    navigation.init_app(app)

    from app.kb.services import init_library
    from app.search.services import init_search

    init_search(app, init_library(app))
    return app
