"""The portal with CSRF protection on, as in production, next to the test suite's `app`."""

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete

from app import create_app
from app.extensions import db, limiter
from app.kb.models import ArticleFeedback
from tests.conftest import make_config


@pytest.fixture(scope="module")
def csrf_app(app, search_index_dir, tmp_path_factory):
    """The portal with CSRF protection on, on the same PostgreSQL database as `app`, or on a
    SQLite file of its own (an in-memory database is private to its engine)."""
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    sqlite = url.startswith("sqlite")
    if sqlite:
        url = f"sqlite:///{tmp_path_factory.mktemp('csrf') / 'portal.sqlite3'}"
    application = create_app(make_config(url, search_index_dir, WTF_CSRF_ENABLED=True))
    if sqlite:
        with application.app_context():
            upgrade()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def csrf_client(csrf_app):
    # Rate-limit counters live in the app's database: on SQLite that is this app's own file.
    with csrf_app.app_context():
        limiter.reset()
    yield csrf_app.test_client()
    with csrf_app.app_context():
        limiter.reset()
        db.session.execute(delete(ArticleFeedback))
        db.session.commit()
