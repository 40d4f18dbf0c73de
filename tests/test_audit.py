"""The audit log: the entries the payment method and credit auto-apply services write (who,
when, from where), the rules of `audit()`, and the admin-only audit log page."""

from datetime import UTC, datetime

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.accounts.models import Role
from app.audit import services
from app.audit.models import AuditEvent
from app.extensions import db
from app.payments import methods
from tests.conftest import sign_in
from tests.payments.method_helpers import RIGHT, make_tenants

HX = {"HX-Request": "true"}
WHERE = {"REMOTE_ADDR": "203.0.113.7"}
BROWSER = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) " + "Gecko/20100101 " * 30}


@pytest.fixture
def tenants(factory):
    return make_tenants(factory)


def log(account_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.account_id == account_id)
                                   .order_by(AuditEvent.id)))


def signed_in(app, user):
    client = app.test_client()
    client.environ_base.update(WHERE)
    assert sign_in(client, user).status_code == 303
    return client


# What the services write ------------------------------------------------------------------


def test_adding_methods_names_the_user_who_added_them(tenants):
    entries = log(tenants.account.id)
    assert [(e.action, e.actor_user_id, e.details["method_id"]) for e in entries] == [
        ("payment_method.added", tenants.users[Role.BILLING].id, tenants.card.id),
        ("payment_method.added", tenants.users[Role.ADMIN].id, tenants.bank.id),
    ]
    assert entries[1].actor_name == tenants.users[Role.ADMIN].email
    assert entries[1].details == {"method_id": tenants.bank.id, "kind": "ach",
                                  "label": tenants.bank.label}
    # Made outside a request: no address or browser to record.
    assert (entries[0].ip_address, entries[0].user_agent) == (None, None)


def test_method_changes_through_the_pages_record_who_when_and_from_where(app, tenants):
    billing = tenants.users[Role.BILLING]
    client = signed_in(app, billing)
    before = datetime.now(UTC)
    bank, card = tenants.bank.id, tenants.card.id
    url = f"/billing/payment-methods/{bank}"
    assert client.post(f"{url}/verify", data=dict(zip(("first_deposit", "second_deposit"),
                       RIGHT, strict=True)), headers=BROWSER).status_code == 303
    assert client.post(f"{url}/default", headers=BROWSER).status_code == 303
    assert client.post(f"/billing/payment-methods/{card}/remove",
                       headers=BROWSER).status_code == 303
    after = datetime.now(UTC)
    entries = log(tenants.account.id)[2:]
    assert [(e.action, e.details["method_id"]) for e in entries] == [
        ("payment_method.verified", bank), ("payment_method.default_changed", bank),
        ("payment_method.removed", card)]
    for entry in entries:
        assert (entry.actor_kind, entry.actor_user_id, entry.actor_name) == (
            "user", billing.id, billing.email)
        assert entry.ip_address == "203.0.113.7"
        assert entry.user_agent == BROWSER["User-Agent"][:services.USER_AGENT_LENGTH]
        assert before <= entry.occurred_at <= after
        assert entry.occurred_at.tzinfo is not None


def test_a_disabled_method_names_the_payment_gateway(tenants):
    methods.disable_method(tenants.card, "The bank closed the account.")
    entry = log(tenants.account.id)[-1]
    assert (entry.action, entry.actor_kind, entry.actor_name, entry.actor_user_id) == (
        "payment_method.disabled", "gateway", "Payment gateway", None)
    assert entry.details["reason"] == "The bank closed the account."


def test_nothing_is_recorded_for_a_change_rolled_back(tenants):
    count = len(log(tenants.account.id))
    methods.remove_method(tenants.card)
    db.session.rollback()
    assert len(log(tenants.account.id)) == count


def test_turning_auto_apply_off_and_on_is_recorded(app, factory):
    account = factory.account()
    admin = factory.user(Role.ADMIN, account=account)
    client = signed_in(app, admin)
    assert client.post("/billing/credit/auto-apply", data={"auto_apply": "off"},
                       headers=BROWSER).status_code in (200, 303)
    assert client.post("/billing/credit/auto-apply", data={"auto_apply": "off"},
                       headers=BROWSER).status_code in (200, 303)  # no change: no entry
    assert client.post("/billing/credit/auto-apply", data={"auto_apply": "on"},
                       headers=BROWSER).status_code in (200, 303)
    entries = log(account.id)
    assert [(e.action, e.details, e.actor_user_id, e.ip_address) for e in entries] == [
        ("credit.auto_apply_changed", {"auto_apply": False}, admin.id, "203.0.113.7"),
        ("credit.auto_apply_changed", {"auto_apply": True}, admin.id, "203.0.113.7"),
    ]


# The rules of audit() -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["password", "new_password", "token", "signup_token",
                                 "account_number", "CVC", "webhook_secret"])
def test_details_never_hold_secrets(factory, key):
    account = factory.account()
    with pytest.raises(ValueError, match="secrets"):
        services.audit("user.invited", account_id=account.id, details={key: "x"})


def test_an_unknown_action_is_refused(factory):
    with pytest.raises(ValueError, match="unknown"):
        services.audit("user.teleported", account_id=factory.account().id)


def test_machine_actors_are_named(app, factory):
    account = factory.account()
    assert services.audit("payment_method.removed", account_id=account.id).actor_name \
        == services.SYSTEM.name
    assert services.audit("payment_method.removed", account_id=account.id,
                          actor=services.ERP).actor_kind == "erp"

    @click.command("tidy")
    def tidy():
        services.audit("payment_method.removed", account_id=account.id)

    result = CliRunner().invoke(tidy, prog_name="flask payments tidy")
    assert result.exit_code == 0, result.output
    entry = log(account.id)[-1]
    assert (entry.actor_kind, entry.actor_name) == ("cli", "Command line: flask payments tidy")


# The audit log page -------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [
    (Role.ADMIN, 200), (Role.BILLING, 403), (Role.VIEWER, 403), (Role.STAFF, 403)])
@pytest.mark.parametrize("headers", [{}, HX])
def test_only_admins_read_the_audit_log(app, tenants, role, status, headers):
    user = tenants.staff if role == Role.STAFF else tenants.users[role]
    client = signed_in(app, user)
    response = client.get("/account/audit", headers=headers)
    assert response.status_code == status
    body = response.get_data(as_text=True)
    if status == 200:
        assert tenants.card.label in body
        assert ("<html" in body) == (not headers)
        assert "HX-Request" in response.headers["Vary"]
        assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/account/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_second_tenant_sees_only_its_own_entries(app, tenants):
    body = signed_in(app, tenants.other_admin).get("/account/audit").get_data(as_text=True)
    assert tenants.other_card.label in body
    assert tenants.card.label not in body and tenants.users[Role.ADMIN].email not in body
    assert "1 entry" in body


def test_the_log_is_newest_first_paginated_and_filtered(app, tenants):
    account, admin = tenants.account, tenants.users[Role.ADMIN]
    for number in range(services.PAGE_SIZE + 3):
        services.audit("user.invited", account_id=account.id, actor=admin,
                       details={"email": f"person{number}@example.test"})
    db.session.commit()
    client = signed_in(app, admin)
    first = client.get("/account/audit").get_data(as_text=True)
    assert "field__error" not in first
    total = services.PAGE_SIZE + 5
    assert f"{total} entries · page 1 of 2" in first
    newest, next_newest = (f"person{n}@example.test"
                           for n in (services.PAGE_SIZE + 2, services.PAGE_SIZE + 1))
    assert first.index(newest) < first.index(next_newest)
    assert "person2@example.test" not in first
    second = client.get("/account/audit?page=2", headers=HX).get_data(as_text=True)
    assert "page 2 of 2" in second and "<html" not in second
    assert second.index("person0@example.test") < second.index(tenants.card.label)
    filtered = client.get("/account/audit?action=payment_method.added").get_data(as_text=True)
    assert "2 entries" in filtered and "person1@example.test" not in filtered
    # Nonsense in the query is a choice the form refuses: the whole log, no error.
    refused = client.get("/account/audit?action=drop&page=x")
    assert refused.status_code == 200 and "Not a valid choice." in refused.get_data(as_text=True)
    assert f"{total} entries" in refused.get_data(as_text=True)
