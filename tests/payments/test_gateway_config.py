"""Payment settings are checked when the application starts: the gateway's name, the
encryption keys, and no development key in production."""

import pytest
from cryptography.fernet import Fernet

from app import create_app
from app.config import DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY, DEVELOPMENT_SECRET_KEY, Config
from tests.conftest import make_config


def production(search_index_dir, **settings) -> type:
    return type(
        "Production",
        (Config,),
        {
            "SECRET_KEY": "a-long-random-production-secret-key-for-this-test",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "SEARCH_INDEX_DIR": search_index_dir,
            **settings,
        },
    )


def test_production_refuses_the_development_encryption_key(search_index_dir):
    assert Config.PAYMENTS_ENCRYPTION_KEYS == DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY
    with pytest.raises(RuntimeError, match="PAYMENTS_ENCRYPTION_KEYS"):
        create_app(production(search_index_dir))
    # Also when it is kept behind a new key, still able to decrypt.
    keys = f"{Fernet.generate_key().decode()},{DEVELOPMENT_PAYMENTS_ENCRYPTION_KEY}"
    with pytest.raises(RuntimeError, match="PAYMENTS_ENCRYPTION_KEYS"):
        create_app(production(search_index_dir, PAYMENTS_ENCRYPTION_KEYS=keys))


def test_production_starts_with_its_own_encryption_key(search_index_dir):
    key = Fernet.generate_key().decode()
    app = create_app(production(search_index_dir, PAYMENTS_ENCRYPTION_KEYS=key))
    assert app.extensions["payment_gateway"].name == "sandbox"


def test_the_secret_key_check_still_comes_first(search_index_dir):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production(search_index_dir, SECRET_KEY=DEVELOPMENT_SECRET_KEY))


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("PAYMENT_GATEWAY", "stripe", "PAYMENT_GATEWAY must be one of: sandbox"),
        ("PAYMENTS_ENCRYPTION_KEYS", "", "at least one"),
        ("PAYMENTS_ENCRYPTION_KEYS", "too-short", "Key 1"),
    ],
)
def test_bad_payment_settings_stop_the_start(search_index_dir, setting, value, message):
    with pytest.raises(RuntimeError, match=message):
        create_app(make_config("sqlite://", search_index_dir, **{setting: value}))
