"""The ERP API against its own OpenAPI document, with schemathesis in process (WSGI), a valid
token and seeded data: no 5xx, every status code documented, every response (errors included)
valid against the document's schema, JSON everywhere — on SQLite and PostgreSQL. Half of the
cases point their path variables at real objects, so the success paths are exercised too."""

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.extensions import db
from tests.erp.api_helpers import API, seed

MAX_EXAMPLES = 15
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]


def test_every_operation_conforms_to_the_document(app, factory, monkeypatch):
    data = seed(app, monkeypatch, factory)
    real = {
        "account_number": [data.a.account.number, data.b.account.number],
        "subscription_id": [data.a.subscription.id],
        "reference": [data.ach.reference, data.card.reference],
        "request_reference": [data.change.reference],
        "document_id": [document.id for document in data.change.documents],
    }
    db.session.remove()
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11

    for operation in operations:
        @given(case=operation.as_strategy(), point_at_real=st.booleans(), pick=st.integers(0, 1))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case, point_at_real, pick):
            if point_at_real and case.path_parameters:
                for name in case.path_parameters:
                    case.path_parameters[name] = real[name][pick % len(real[name])]
            case.call_and_validate(headers=data.headers, checks=CHECKS)
            db.session.remove()

        run()
