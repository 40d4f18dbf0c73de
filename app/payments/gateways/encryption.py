"""Encryption at rest for bank account numbers (and any other secret a payment record keeps):
Fernet (AES-128-CBC + HMAC-SHA256) with several keys, newest first, so keys can be rotated.

Configuration: `PAYMENTS_ENCRYPTION_KEYS`, comma-separated Fernet keys, newest first. New values
are encrypted with the first key; any of them decrypts. To rotate: put a new key in front, run
`flask payment-keys rotate` (which re-encrypts with the first key), then drop the old key.
"""

from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class EncryptionKeyError(RuntimeError):
    """The configured keys are missing or malformed (raised at start, never per request)."""


class DecryptionError(Exception):
    """A stored value was not encrypted with any configured key, or was altered."""


def parse_keys(value: str) -> list[str]:
    """The keys of a comma-separated setting, newest first. Raises EncryptionKeyError."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise EncryptionKeyError("Set PAYMENTS_ENCRYPTION_KEYS to at least one Fernet key.")
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # Never echo the key itself: it is a secret even when malformed.
            raise EncryptionKeyError(
                f"Key {position} of PAYMENTS_ENCRYPTION_KEYS is not a Fernet key "
                "(32 bytes, URL-safe base64)."
            ) from None
    return keys


def new_key() -> str:
    """A fresh random key, to put in front of PAYMENTS_ENCRYPTION_KEYS."""
    return Fernet.generate_key().decode()


class FieldEncryptor:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise EncryptionKeyError("At least one encryption key is needed.")
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "FieldEncryptor":
        return cls(parse_keys(config["PAYMENTS_ENCRYPTION_KEYS"]))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        """Raises DecryptionError."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError("Cannot decrypt: unknown key or altered value.") from None

    def rotate(self, token: str) -> str:
        """The same value encrypted with the newest key. Raises DecryptionError."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise DecryptionError("Cannot decrypt: unknown key or altered value.") from None
