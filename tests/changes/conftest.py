"""Change request fixtures: documents stored in a temporary folder, an admin with an account,
and a helper that takes a request of any type through its steps to `submitted`."""

import io
from datetime import date

import pytest
from PIL import Image

from app.accounts.models import Role
from app.changes import services
from app.changes.documents import store_document
from app.changes.models import ChangeType
from app.extensions import db

TODAY = date(2026, 4, 10)
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\nstartxref\n0\n%%EOF\n"


def _png() -> bytes:
    output = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(output, "PNG")
    return output.getvalue()


PNG = _png()
VALUES = {
    ChangeType.LEGAL_NAME: (["legal_name"], {"legal_name": "Northwind Cloud Holdings Inc."}),
    ChangeType.ADDRESS: (["address"], {"line1": "500 Pine Street", "line2": "Floor 3",
                                       "city": "Spokane", "region": "WA",
                                       "postal_code": "99201"}),
    ChangeType.TAX: (["tax_exempt"], {"tax_exempt": "yes"}),
}


@pytest.fixture(autouse=True)
def documents_dir(app, tmp_path):
    previous = app.config.get("DOCUMENTS_DIR")
    app.config["DOCUMENTS_DIR"] = tmp_path / "documents"
    yield app.config["DOCUMENTS_DIR"]
    app.config["DOCUMENTS_DIR"] = previous


@pytest.fixture
def admin(factory):
    account = factory.account(address_line1="1 Main Street", city="Seattle",
                              postal_code="98101", tax_id="91-1144442")
    return factory.user(Role.ADMIN, account=account)


def stored_pdf(name: str = "certificate.pdf"):
    return store_document(io.BytesIO(PDF), name)


def draft_of(kind: ChangeType, user, values: dict | None = None, parts: list | None = None):
    """A draft of `kind` with valid values (and a document when one is needed), attested."""
    draft = services.start_or_resume_draft(user.account, kind, user)
    default_parts, default_values = VALUES[kind]
    assert services.choose_parts(draft, parts or default_parts) == {}
    assert services.save_values(draft, values or default_values) == {}
    if services.documents_required(draft):
        services.add_document(draft, stored_pdf(), user)
    services.finish_documents(draft)
    services.attest(draft, user)
    db.session.commit()
    return draft


def submitted(kind: ChangeType, user, **options):
    change = services.submit(draft_of(kind, user, **options), user, "192.0.2.7")
    db.session.commit()
    return change
