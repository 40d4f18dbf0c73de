"""Supporting documents: real PDF, PNG and JPEG files are kept; anything else, or too large, is
refused with a sentence; names never reach the disk; files are private."""

import hashlib
import io
import stat
import struct
import unicodedata
import zlib
from pathlib import Path

import pytest
from flask import Flask
from fpdf import FPDF
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import app as app_package
from app.changes.documents import (
    ACCEPTED,
    MAX_DOCUMENT_BYTES,
    DocumentRejected,
    StoredDocument,
    delete_document,
    describe_limits,
    display_filename,
    document_path,
    store_document,
)
from app.config import Config, TestConfig

NOT_ACCEPTED = (
    "This file is not a real PDF, PNG or JPEG: export or scan the document in one of these formats."
)


@pytest.fixture
def documents_dir(tmp_path) -> Path:
    return tmp_path / "documents"


@pytest.fixture(autouse=True)
def app_context(documents_dir):
    application = Flask(__name__)
    application.config["DOCUMENTS_DIR"] = documents_dir
    with application.app_context():
        yield


def make_pdf() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="Certificate of amendment: Northwind Traders LLC")
    return bytes(pdf.output())


def make_image(kind: str, size: tuple[int, int] = (40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise(size, 64).convert("RGB").save(buffer, kind)
    return buffer.getvalue()


PDF = make_pdf()
PNG = make_image("PNG")
JPEG = make_image("JPEG")


class PatternStream:
    """`size` bytes (head, filler, tail) handed out in the pieces asked for, never held whole;
    counts what was read."""

    def __init__(self, head: bytes, size: int, tail: bytes, filler: bytes = b" ") -> None:
        self.head, self.tail, self.filler = head, tail, filler
        self.size = size
        self.position = 0

    def read(self, wanted: int = -1) -> bytes:
        remaining = self.size - self.position
        wanted = remaining if wanted < 0 else min(wanted, remaining)
        out = bytearray()
        while len(out) < wanted:
            at = self.position + len(out)
            if at < len(self.head):
                out += self.head[at : at + wanted - len(out)]
            elif at >= self.size - len(self.tail):
                start = at - (self.size - len(self.tail))
                out += self.tail[start : start + wanted - len(out)]
            else:
                gap = min(wanted - len(out), self.size - len(self.tail) - at)
                out += self.filler * gap
        self.position += len(out)
        return bytes(out)


def pdf_of_size(size: int) -> PatternStream:
    """A file with a PDF header and trailer, padded with a PDF comment to `size` bytes."""
    return PatternStream(b"%PDF-1.7\n%", size, b"\nstartxref\n0\n%%EOF\n", filler=b"x")


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize(
    ("content", "name", "content_type", "display"),
    [
        (PDF, "certificate.pdf", "application/pdf", "certificate.pdf"),
        (PNG, "scan.png", "image/png", "scan.png"),
        (JPEG, "photo.JPEG", "image/jpeg", "photo.jpeg"),
        (PNG, "scan.pdf", "image/png", "scan.png"),  # the type comes from the content
        (PDF, "letter", "application/pdf", "letter.pdf"),
    ],
)
def test_real_documents_are_kept_privately_under_a_random_key(
    documents_dir, content, name, content_type, display
):
    document = store_document(io.BytesIO(content), name)
    assert isinstance(document, StoredDocument)
    assert document.content_type == content_type
    assert document.filename == display
    assert document.size == len(content)
    assert document.sha256 == hashlib.sha256(content).hexdigest()
    assert len(document.storage_key) == 32
    assert files_in(documents_dir) == [document.storage_key]
    path = document_path(document.storage_key)
    assert path.parent == documents_dir
    assert path.read_bytes() == content
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(documents_dir.stat().st_mode) == 0o700


def test_each_upload_gets_its_own_key():
    first = store_document(io.BytesIO(PDF), "a.pdf")
    second = store_document(io.BytesIO(PDF), "a.pdf")
    assert first.storage_key != second.storage_key


def flip_byte(content: bytes, at: int) -> bytes:
    return content[:at] + bytes([content[at] ^ 0xFF]) + content[at + 1 :]


def truncated_jpeg() -> bytes:
    large = make_image("JPEG", (400, 400))
    return large[: len(large) * 3 // 4]


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.pdf", "The file is empty: choose the document again."),
        (b"Dear reseller, this is a plain text letter.\n", "letter.pdf", NOT_ACCEPTED),
        (b"PK\x03\x04 a Word document, zipped", "contract.pdf", NOT_ACCEPTED),
        (b"GIF89a\x01\x00\x01\x00", "logo.png", NOT_ACCEPTED),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo.png", NOT_ACCEPTED),
        (b"%PDF-1.7\n1 0 obj << >> endobj\n", "cut.pdf",
         "This PDF is incomplete or damaged: export it again and upload the new file."),
        (PDF[: len(PDF) // 2], "half.pdf",
         "This PDF is incomplete or damaged: export it again and upload the new file."),
        (b"\x89PNG\r\n\x1a\n" + b"garbage " * 64, "scan.png",
         "This PNG image is incomplete or damaged: save it again and upload the new file."),
        (PNG[: len(PNG) - 20], "scan.png",
         "This PNG image is incomplete or damaged: save it again and upload the new file."),
        (flip_byte(PNG, len(PNG) // 2), "scan.png",
         "This PNG image is incomplete or damaged: save it again and upload the new file."),
        (b"\xff\xd8\xff\xe0" + b"garbage " * 64, "photo.jpg",
         "This JPEG image is incomplete or damaged: save it again and upload the new file."),
        (truncated_jpeg(), "photo.jpg",
         "This JPEG image is incomplete or damaged: save it again and upload the new file."),
    ],
)  # fmt: skip
def test_files_that_are_not_what_they_claim_are_refused_and_not_kept(
    documents_dir, content, name, message
):
    with pytest.raises(DocumentRejected) as refused:
        store_document(io.BytesIO(content), name)
    assert refused.value.message == message
    assert refused.value.too_large is False
    assert files_in(documents_dir) == []


def test_a_png_whose_last_chunk_is_damaged_is_refused():
    """The chunk before IEND carries a wrong checksum: only reading to the end finds it."""
    damaged = flip_byte(PNG, len(PNG) - 13)
    with pytest.raises(DocumentRejected, match="PNG image is incomplete or damaged"):
        store_document(io.BytesIO(damaged), "scan.png")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces `width` x `height` pixels (grey, 1 bit) and carries no image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(12_000, 8_000), (20_000, 20_000)])
def test_an_image_with_too_many_pixels_is_refused_without_decoding_it(documents_dir, size):
    assert size[0] * size[1] > Image.MAX_IMAGE_PIXELS
    with pytest.raises(DocumentRejected) as refused:
        store_document(io.BytesIO(png_header_only(*size)), "huge.png")
    assert refused.value.message == (
        "This PNG image has too many pixels: save it at a lower resolution."
    )
    assert files_in(documents_dir) == []


def test_a_png_without_image_data_is_refused(documents_dir):
    with pytest.raises(DocumentRejected) as refused:
        store_document(io.BytesIO(png_header_only(10, 10)), "empty.png")
    assert refused.value.message == (
        "This PNG image is incomplete or damaged: save it again and upload the new file."
    )
    assert files_in(documents_dir) == []


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.sampled_from(
        [b"", b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", PNG[:33], JPEG[:20]]
    ),
    rest=st.binary(max_size=300),
)
def test_any_bytes_are_kept_or_refused_with_a_sentence(documents_dir, start, rest):
    try:
        document = store_document(io.BytesIO(start + rest), "upload")
    except DocumentRejected as refused:
        assert refused.message.endswith(".")
        assert refused.too_large is False
    else:
        assert document.content_type in ACCEPTED
    assert not [name for name in files_in(documents_dir) if name.startswith(".upload-")]


def test_exactly_the_limit_is_accepted(documents_dir):
    stream = pdf_of_size(MAX_DOCUMENT_BYTES)
    document = store_document(stream, "large.pdf")
    assert document.size == MAX_DOCUMENT_BYTES
    assert document_path(document.storage_key).stat().st_size == MAX_DOCUMENT_BYTES


@pytest.mark.parametrize("size", [MAX_DOCUMENT_BYTES + 1, 5 * MAX_DOCUMENT_BYTES])
def test_one_byte_over_the_limit_is_too_large_and_the_rest_is_never_read(documents_dir, size):
    stream = pdf_of_size(size)
    with pytest.raises(DocumentRejected) as refused:
        store_document(stream, "large.pdf")
    assert refused.value.too_large is True
    assert refused.value.message == (
        "The file is larger than 10 MB: scan it at a lower resolution or save a smaller PDF."
    )
    assert stream.position == MAX_DOCUMENT_BYTES + 1
    assert files_in(documents_dir) == []


def test_an_error_while_reading_leaves_nothing_on_disk(documents_dir):
    class BrokenStream:
        def read(self, wanted: int = -1) -> bytes:
            raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        store_document(BrokenStream(), "a.pdf")
    assert files_in(documents_dir) == []


@pytest.mark.parametrize(
    ("name", "content_type", "display"),
    [
        ("../../etc/passwd.pdf", "application/pdf", "passwd.pdf"),
        ("C:\\x\\..\\a.pdf", "application/pdf", "a.pdf"),
        ("/var/www/app/static/a.pdf", "application/pdf", "a.pdf"),
        ("a\x00b.pdf", "application/pdf", "ab.pdf"),
        ("quo\"te's `x`.pdf", "application/pdf", "quotes x.pdf"),
        ("line\r\nbreak.pdf", "application/pdf", "linebreak.pdf"),
        ('x.pdf"; filename*=UTF-8\'\'evil.exe', "application/pdf",
         "x.pdf filename=UTF-8evil.exe.pdf"),
        ("x" * 500 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
        ("Überweisung März.pdf", "application/pdf", "Überweisung März.pdf"),
        ("U\u0308berweisung Ma\u0308rz.pdf", "application/pdf", "Überweisung März.pdf"),
        ("营业执照.PDF", "application/pdf", "营业执照.pdf"),
        ("invoice\u202efdp.exe", "application/pdf", "invoicefdp.exe.pdf"),
        ("  .hidden.pdf", "application/pdf", "hidden.pdf"),
        ("..", "application/pdf", "document.pdf"),
        ("", "application/pdf", "document.pdf"),
        ("\x00\x01", "image/png", "document.png"),
        ("report.docx", "application/pdf", "report.docx.pdf"),
        ("photo.png", "image/jpeg", "photo.jpg"),
        ("photo.jpe", "image/jpeg", "photo.jpe"),
        ("scan.JPG", "image/jpeg", "scan.jpg"),
        ("scan.pdf", "image/png", "scan.png"),
    ],
)  # fmt: skip
def test_display_names_are_safe(name, content_type, display):
    assert display_filename(name, content_type) == display


EXTENSIONS = {"application/pdf": (".pdf",), "image/png": (".png",),
              "image/jpeg": (".jpg", ".jpeg", ".jpe")}  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300), content_type=st.sampled_from(sorted(ACCEPTED)))
def test_any_name_gives_a_safe_display_name(name, content_type):
    display = display_filename(name, content_type)
    assert 1 <= len(display) <= 120
    assert not set(display) & set("/\\\"'`\r\n\x00")
    assert not any(unicodedata.category(char)[0] == "C" for char in display)
    assert not display.startswith((".", " "))
    assert display.lower().endswith(EXTENSIONS[content_type])


def test_the_uploaded_name_never_reaches_the_disk(documents_dir, tmp_path):
    document = store_document(io.BytesIO(PDF), "../../escaped.pdf")
    assert files_in(documents_dir) == [document.storage_key]
    assert files_in(tmp_path) == ["documents"]
    assert document.filename == "escaped.pdf"


@pytest.mark.parametrize(
    "key",
    ["../x", "", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "../" + "0" * 29, "/etc/passwd",
     "0" * 31 + "/", "0" * 32 + "\n", "０" * 32, None, 123],
)  # fmt: skip
def test_document_path_refuses_anything_but_a_storage_key(key):
    with pytest.raises(ValueError, match="not a document storage key"):
        document_path(key)
    with pytest.raises(ValueError, match="not a document storage key"):
        delete_document(key)


def test_delete_document_removes_the_file_and_is_quiet_when_it_is_gone(documents_dir):
    document = store_document(io.BytesIO(PNG), "scan.png")
    delete_document(document.storage_key)
    assert files_in(documents_dir) == []
    delete_document(document.storage_key)


def test_documents_are_kept_outside_the_static_folder():
    static = (Path(app_package.__file__).parent / "static").resolve()
    for folder in (Config.DOCUMENTS_DIR, TestConfig.DOCUMENTS_DIR):
        assert not Path(folder).resolve().is_relative_to(static)
    assert Config.DOCUMENTS_DIR.name == "documents"
    assert Config.DOCUMENTS_DIR != TestConfig.DOCUMENTS_DIR


def test_limits_in_words():
    assert describe_limits() == "PDF, PNG or JPEG, up to 10 MB each"
