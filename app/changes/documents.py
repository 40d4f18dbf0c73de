"""Supporting documents: checked by their content, stored outside the static folder.
Provisional, until the full checks land."""

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask import current_app

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
ACCEPTED = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
_SIGNATURES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png",
               b"\xff\xd8\xff": "image/jpeg"}


class DocumentRejected(ValueError):
    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


@dataclass(frozen=True)
class StoredDocument:
    storage_key: str
    filename: str
    content_type: str
    size: int
    sha256: str


def _directory() -> Path:
    directory = Path(current_app.config.get("DOCUMENTS_DIR")
                     or Path(current_app.instance_path) / "documents")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def describe_limits() -> str:
    return "PDF, PNG or JPEG, up to 10 MB."


def store_document(stream: BinaryIO, filename: str) -> StoredDocument:
    body = stream.read(MAX_DOCUMENT_BYTES + 1)
    if len(body) > MAX_DOCUMENT_BYTES:
        raise DocumentRejected("This file is larger than 10 MB. Send a smaller file.",
                               too_large=True)
    if not body:
        raise DocumentRejected("This file is empty.")
    content_type = next((kind for magic, kind in _SIGNATURES.items()
                         if body.startswith(magic)), None)
    if content_type is None:
        raise DocumentRejected("This file is not a PDF, PNG or JPEG.")
    name = Path((filename or "document").replace("\\", "/")).name.strip()[:200] or "document"
    key = secrets.token_hex(16)
    (_directory() / key).write_bytes(body)
    return StoredDocument(key, name, content_type, len(body), hashlib.sha256(body).hexdigest())


def document_path(storage_key: str) -> Path:
    return _directory() / storage_key


def delete_document(storage_key: str) -> None:
    document_path(storage_key).unlink(missing_ok=True)
