"""Test fixtures: the application on every configured database, clients signed in as each
role, and factories. A test that uses `app` runs once on SQLite and, when TEST_DATABASE_URL is
set, once more on PostgreSQL."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text

from app import create_app
from app.accounts.models import Account, Role, User
from app.accounts.services import create_account, create_user
from app.config import TestConfig
from app.extensions import db, limiter

PASSWORD = "correct-horse-battery-7"

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgresql` run on the PostgreSQL variant of `app` only (CI sets
    TEST_DATABASE_URL); their SQLite variants are deselected, not skipped."""
    keep, drop = [], []
    for item in items:
        backend = getattr(item, "callspec", None) and item.callspec.params.get("app")
        if item.get_closest_marker("postgresql") and backend != "postgresql":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture(scope="session")
def search_index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("search-index")


def make_config(database_url: str, index_dir: Path, **overrides) -> type:
    return type(
        "Config",
        (TestConfig,),
        {"SQLALCHEMY_DATABASE_URI": database_url, "SEARCH_INDEX_DIR": index_dir, **overrides},
    )


def _reset_schema(app: Flask) -> None:
    """Drop everything and build the schema from the migrations (tests upgrade-from-empty)."""
    with app.app_context():
        db.drop_all()
        db.session.execute(text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, search_index_dir) -> Iterator[Flask]:
    url = "sqlite://" if request.param == "sqlite" else os.environ["TEST_DATABASE_URL"]
    application = create_app(make_config(url, search_index_dir))
    _reset_schema(application)
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def _clear_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(table.name for table in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_database(request) -> Iterator[None]:
    if "app" not in request.fixturenames:
        yield
        return
    application = request.getfixturevalue("app")
    with application.app_context():
        limiter.reset()
        yield
        db.session.rollback()
        _clear_tables()
        db.session.remove()


class IsolatedClient(FlaskClient):
    """Runs each request in its own application context, as a server does, so that neither
    `g` (the signed-in user) nor the database session leaks between the test and requests."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture
def client(app) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


class Factory:
    """Builds accounts and users for tests (flushed and committed)."""

    def __init__(self) -> None:
        self.counter = 0

    def account(self, **fields) -> Account:
        self.counter += 1
        values = {
            "number": f"R-9{self.counter:05d}",
            "legal_name": f"Test Reseller {self.counter}",
            "country": "US",
            "region": "WA",
            "currency": "USD",
            **fields,
        }
        account = create_account(**values)
        db.session.commit()
        return account

    def user(self, role: Role = Role.ADMIN, account: Account | None = None, **fields) -> User:
        self.counter += 1
        if account is None and role != Role.STAFF:
            account = self.account()
        user = create_user(
            email=fields.get("email", f"user{self.counter}@example.test"),
            name=fields.get("name", f"User {self.counter}"),
            password=fields.get("password", PASSWORD),
            role=role,
            account=account,
        )
        db.session.commit()
        return user


@pytest.fixture
def factory(app) -> Factory:
    return Factory()


def sign_in(client: FlaskClient, user: User, password: str = PASSWORD):
    return client.post("/login", data={"email": user.email, "password": password})


@pytest.fixture
def login(client):
    """Sign the test client in as a user: `login(user)`."""

    def _login(user: User) -> FlaskClient:
        response = sign_in(client, user)
        assert response.status_code == 303, response.get_data(as_text=True)
        return client

    return _login
