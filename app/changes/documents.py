"""Supporting documents: uploads checked by their content and kept privately on disk.

A document is stored under a random key in the `DOCUMENTS_DIR` folder, outside the static
folder, readable by the portal's own user only. Its type comes from its content (never from the
upload's name or Content-Type header): a PDF must start with the PDF header and end with the
PDF trailer; a PNG or JPEG must have the format's signature and be readable by Pillow to its
end, so a renamed text file or a truncated image is refused. (There is no full PDF parser in
the portal: the header and trailer checks catch renamed files and interrupted uploads.)
"""

import hashlib
import os
import re
import secrets
import tempfile
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from PIL import Image

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
ACCEPTED = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
MAX_FILENAME_LENGTH = 120

# The extension a stored document's display name ends with, and the others it may keep.
_EXTENSIONS = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
}
_KNOWN_EXTENSIONS = {ext for exts in _EXTENSIONS.values() for ext in exts}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_PDF_HEADER = b"%PDF-"
# A PDF ends with "startxref", the offset of its cross-reference section and "%%EOF"; writers
# may add a little whitespace or padding after it.
_PDF_TAIL_BYTES = 1024
_CHUNK_BYTES = 64 * 1024
_STORAGE_KEY = re.compile(r"[0-9a-f]{32}")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[\"'`<>:|?*;\\/]")


class DocumentRejected(ValueError):
    """An upload that is not stored: `message` is shown next to the field; `too_large` makes
    the answer a 413."""

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


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


def describe_kinds() -> str:
    """The accepted kinds of file, in words: "PDF, PNG or JPEG"."""
    names = list(ACCEPTED.values())
    return ", ".join(names[:-1]) + " or " + names[-1]


def describe_limits() -> str:
    """What the portal accepts, in words: "PDF, PNG or JPEG, up to 10 MB each"."""
    return f"{describe_kinds()}, up to {_megabytes(MAX_DOCUMENT_BYTES)} each"


def documents_dir() -> Path:
    return Path(current_app.config["DOCUMENTS_DIR"])


def document_path(storage_key: str) -> Path:
    """Where the document stored under `storage_key` lives. Raises ValueError when the key is
    not 32 lower-case hexadecimal digits, so no other name reaches the filesystem."""
    if not isinstance(storage_key, str) or not _STORAGE_KEY.fullmatch(storage_key):
        raise ValueError("not a document storage key")
    return documents_dir() / storage_key


def delete_document(storage_key: str) -> None:
    """Remove a stored document (nothing happens when it is already gone). Raises ValueError
    for a malformed key, like `document_path`."""
    document_path(storage_key).unlink(missing_ok=True)


def store_document(stream: IO[bytes], filename: str) -> StoredDocument:
    """Read an upload (at most MAX_DOCUMENT_BYTES), check its content and keep it under a new
    random key. Raises DocumentRejected with a sentence for the reseller when the file is
    empty, too large (`too_large`), not a PDF, PNG or JPEG, or damaged; nothing is left on
    disk then."""
    folder = documents_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor, temporary_name = tempfile.mkstemp(dir=folder, prefix=".upload-")
    temporary = Path(temporary_name)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as output:
            size, digest = _copy_limited(stream, output)
        if size == 0:
            raise DocumentRejected("The file is empty: choose the document again.")
        content_type = _detect_type(temporary)
        storage_key = secrets.token_hex(16)
        os.replace(temporary, folder / storage_key)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return StoredDocument(
        storage_key=storage_key,
        filename=display_filename(filename, content_type),
        content_type=content_type,
        size=size,
        sha256=digest,
    )


def _copy_limited(stream: IO[bytes], output: IO[bytes]) -> tuple[int, str]:
    """Copy the stream in chunks, reading one byte past the limit at most. Raises
    DocumentRejected(too_large=True) beyond it."""
    digest = hashlib.sha256()
    size = 0
    while True:
        chunk = stream.read(min(_CHUNK_BYTES, MAX_DOCUMENT_BYTES + 1 - size))
        if not chunk:
            return size, digest.hexdigest()
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise DocumentRejected(
                f"The file is larger than {_megabytes(MAX_DOCUMENT_BYTES)}: scan it at a lower "
                "resolution or save a smaller PDF.",
                too_large=True,
            )
        digest.update(chunk)
        output.write(chunk)


def _detect_type(path: Path) -> str:
    """The content type of the file at `path`, from its content. Raises DocumentRejected."""
    with path.open("rb") as file:
        head = file.read(len(_PNG_SIGNATURE))
    if head.startswith(_PDF_HEADER):
        _check_pdf(path)
        return "application/pdf"
    if head.startswith(_PNG_SIGNATURE):
        _check_image(path, "PNG")
        return "image/png"
    if head.startswith(_JPEG_SIGNATURE):
        _check_image(path, "JPEG")
        return "image/jpeg"
    raise DocumentRejected(
        f"This file is not a real {describe_kinds()}: export or scan the document in one of "
        "these formats."
    )


def _check_pdf(path: Path) -> None:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - _PDF_TAIL_BYTES))
        tail = file.read()
    if b"startxref" not in tail or b"%%EOF" not in tail:
        raise DocumentRejected(
            "This PDF is incomplete or damaged: export it again and upload the new file."
        )


def _check_image(path: Path, kind: str) -> None:
    """Pillow reads the image to its end: PNG by checking every chunk's checksum, JPEG by
    decoding it at a reduced scale (cheap in memory, yet it reads every byte)."""
    damaged = DocumentRejected(
        f"This {kind} image is incomplete or damaged: save it again and upload the new file."
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[kind]) as image:
                if kind == "PNG":
                    image.verify()
                else:
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                    image.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise DocumentRejected(
            f"This {kind} image has too many pixels: save it at a lower resolution."
        ) from None
    except Exception:  # noqa: BLE001 - Pillow's parsers raise many kinds of error on bad input
        raise damaged from None


def display_filename(filename: str, content_type: str) -> str:
    """A name safe to show and to put in a Content-Disposition header: the last part of the
    uploaded name without folders, control characters, quotes or characters file systems
    refuse, at most MAX_FILENAME_LENGTH characters, ending with an extension of the detected
    type (the uploaded one when it matches, else the type's own)."""
    name = unicodedata.normalize("NFC", filename or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(_displayable(char) for char in name)
    name = " ".join(_UNSAFE_NAME_CHARACTERS.sub("", name).split()).strip(". ")
    stem, extension = os.path.splitext(name)
    allowed = _EXTENSIONS[content_type]
    if extension.lower() in allowed:
        extension = extension.lower()
    else:
        if extension.lower() not in _KNOWN_EXTENSIONS:
            stem = name
        extension = allowed[0]
    stem = stem.strip(". ")[: MAX_FILENAME_LENGTH - len(extension)].rstrip(". ") or "document"
    return stem + extension


def _displayable(char: str) -> str:
    """Spaces of every kind become a plain space; control, format (such as right-to-left
    overrides) and separator characters are dropped."""
    category = unicodedata.category(char)
    if category == "Zs":
        return " "
    return "" if category[0] == "C" or category in {"Zl", "Zp"} else char
