"""Bank account numbers encrypted at rest: round trip, several keys, rotation."""

import pytest
from cryptography.fernet import Fernet

from app.payments.gateways.encryption import (
    DecryptionError,
    EncryptionKeyError,
    FieldEncryptor,
    new_key,
    parse_keys,
)

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def test_round_trip_never_shows_the_plain_value():
    encryptor = FieldEncryptor([OLD_KEY])
    token = encryptor.encrypt("000123456789")
    assert "000123456789" not in token
    assert encryptor.decrypt(token) == "000123456789"
    # A fresh IV each time: equal numbers do not give equal stored values.
    assert encryptor.encrypt("000123456789") != token


def test_an_altered_value_is_refused():
    encryptor = FieldEncryptor([OLD_KEY])
    token = encryptor.encrypt("000123456789")
    altered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(DecryptionError):
        encryptor.decrypt(altered)


def test_rotation_new_key_first_old_values_still_read_then_re_encrypted():
    old = FieldEncryptor([OLD_KEY])
    stored = old.encrypt("987654321")

    during = FieldEncryptor(parse_keys(f"{NEW_KEY}, {OLD_KEY}"))
    assert during.decrypt(stored) == "987654321"
    rotated = during.rotate(stored)
    # New values go under the newest key: once rotated, the old key can be dropped.
    after = FieldEncryptor([NEW_KEY])
    assert after.decrypt(rotated) == "987654321"
    assert after.decrypt(during.encrypt("42424242")) == "42424242"
    with pytest.raises(DecryptionError):
        after.decrypt(stored)
    with pytest.raises(DecryptionError):
        old.decrypt(rotated)


def test_rotating_a_value_no_key_reads_is_refused():
    with pytest.raises(DecryptionError):
        FieldEncryptor([NEW_KEY]).rotate(FieldEncryptor([OLD_KEY]).encrypt("1234"))


@pytest.mark.parametrize("setting", ["", " , ", ","])
def test_no_key_is_refused(setting):
    with pytest.raises(EncryptionKeyError):
        parse_keys(setting)


def test_a_malformed_key_is_refused_without_showing_it():
    with pytest.raises(EncryptionKeyError) as error:
        parse_keys(f"{NEW_KEY},not-a-real-key-value")
    assert "Key 2" in str(error.value)
    assert "not-a-real-key-value" not in str(error.value)


def test_new_key_is_a_working_key():
    key = new_key()
    assert parse_keys(key) == [key]
    assert FieldEncryptor([key]).decrypt(FieldEncryptor([key]).encrypt("x")) == "x"
