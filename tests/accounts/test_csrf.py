"""CSRF protection on state-changing requests, with CSRF enabled as in production."""

import pytest

from tests.conftest import make_config


@pytest.fixture
def csrf_client(app, search_index_dir):
    from app import create_app

    config = make_config(
        app.config["SQLALCHEMY_DATABASE_URI"], search_index_dir, WTF_CSRF_ENABLED=True
    )
    return create_app(config).test_client()


def test_login_without_token_is_rejected(csrf_client):
    response = csrf_client.post("/login", data={"email": "a@b.test", "password": "x"})
    assert response.status_code == 400


def test_feedback_without_token_is_rejected(csrf_client):
    response = csrf_client.post("/help/getting-started/feedback", data={"helpful": "yes"})
    assert response.status_code == 400


def test_htmx_sends_the_token_from_the_body_header(csrf_client):
    # Not the Help Center's anonymous pages: those hold no token (their forms bring their own).
    body = csrf_client.get("/login").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in body
