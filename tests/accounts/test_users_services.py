"""Users and roles services as tables of cases: the last-admin rule, invitations (expiry,
reuse, revocation), role changes and deactivation, each with its audit entry."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.accounts import services, users
from app.accounts.models import Role, User, UserSession
from app.accounts.users_models import Invitation
from app.audit.models import AuditEvent
from app.extensions import db

NEW_PASSWORD = "a-long-enough-phrase-7"
START = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def entries(account_id: int, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.account_id == account_id, AuditEvent.action == action)
        .order_by(AuditEvent.id)))


@pytest.fixture
def team(factory):
    """An account with two active admins, a billing user and a viewer."""
    account = factory.account()
    members = {name: factory.user(role, account=account, name=name.title())
               for name, role in [("ann", Role.ADMIN), ("bob", Role.ADMIN),
                                  ("bill", Role.BILLING), ("vic", Role.VIEWER)]}
    return account, members


# The last-admin rule ----------------------------------------------------------------------

# (who is already inactive or demoted first, the change, allowed?)
LAST_ADMIN_CASES = [
    ([], ("role", "ann", Role.BILLING), True),          # bob is still an admin
    ([], ("deactivate", "ann", None), True),
    ([("role", "bob", Role.VIEWER)], ("role", "ann", Role.BILLING), False),
    ([("role", "bob", Role.VIEWER)], ("role", "ann", Role.VIEWER), False),
    ([("role", "bob", Role.VIEWER)], ("deactivate", "ann", None), False),
    ([("deactivate", "bob", None)], ("role", "ann", Role.VIEWER), False),  # inactive admin
    ([("deactivate", "bob", None)], ("deactivate", "ann", None), False),   # doesn't count
    ([("role", "bob", Role.VIEWER)], ("role", "ann", Role.ADMIN), True),   # no change
    ([("role", "bob", Role.VIEWER)], ("role", "bill", Role.VIEWER), True),  # not an admin
    ([("role", "bob", Role.VIEWER)], ("deactivate", "vic", None), True),
]


def _apply(members, change, by):
    kind, name, role = change
    if kind == "role":
        return users.change_role(members[name], role, by=by)
    return users.deactivate_user(members[name], by=by)


@pytest.mark.parametrize(("before", "change", "allowed"), LAST_ADMIN_CASES)
def test_an_account_always_keeps_an_active_admin(team, before, change, allowed):
    account, members = team
    ann = members["ann"]
    for step in before:
        _apply(members, step, ann)
    db.session.commit()
    if allowed:
        _apply(members, change, ann)
    else:
        with pytest.raises(users.UserChangeError) as refused:
            _apply(members, change, ann)
        assert "last active admin" in refused.value.message
        assert refused.value.field == ("role" if change[0] == "role" else "active")
        db.session.rollback()
    admins = db.session.scalars(select(User).where(
        User.account_id == account.id, User.role == Role.ADMIN, User.active.is_(True))).all()
    assert len(admins) >= 1


def test_a_role_change_is_audited_with_before_and_after(team):
    account, members = team
    assert users.change_role(members["vic"], Role.BILLING, by=members["ann"]) is True
    assert users.change_role(members["vic"], Role.BILLING, by=members["ann"]) is False
    [entry] = entries(account.id, "user.role_changed")
    assert entry.actor_user_id == members["ann"].id
    assert entry.actor_name == members["ann"].email
    assert entry.details == {"user_id": members["vic"].id, "email": members["vic"].email,
                             "from": "viewer", "to": "billing"}


@pytest.mark.parametrize("role", [Role.STAFF, "owner"])
def test_only_account_roles_can_be_given(team, role):
    _, members = team
    with pytest.raises(users.UserChangeError):
        users.change_role(members["vic"], role, by=members["ann"])


def test_deactivation_ends_the_users_sessions_at_once(team, app):
    account, members = team
    vic = members["vic"]
    with app.test_request_context():
        token = services.start_session(vic, ip_address="10.0.0.1", user_agent="UA").token
    db.session.commit()
    assert users.deactivate_user(vic, by=members["ann"]) is True
    db.session.commit()
    assert db.session.get(UserSession, token) is None
    assert services.authenticate(vic.email, "correct-horse-battery-7") is None
    assert users.deactivate_user(vic, by=members["ann"]) is False
    assert users.reactivate_user(vic, by=members["ann"]) is True
    assert services.authenticate(vic.email, "correct-horse-battery-7") is not None
    assert [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))] \
        == ["user.deactivated", "user.reactivated"]


# Invitations --------------------------------------------------------------------------------


def test_an_invitation_stores_only_a_hash_of_its_token(team):
    account, members = team
    created = users.invite_user(account, email=" New.Person@Example.test ", name="New Person",
                                role=Role.BILLING, by=members["ann"], now=START)
    stored = db.session.get(Invitation, created.invitation.id)
    assert stored.email == "new.person@example.test"
    assert created.token not in stored.token_hash
    assert stored.token_hash == users.token_hash(created.token)
    assert stored.expires_at == START + users.INVITATION_LIFETIME
    [entry] = entries(account.id, "user.invited")
    assert created.token not in str(entry.details)
    assert entry.details["email"] == "new.person@example.test"


# (seconds after the invitation's expiry the link is opened, works?)
@pytest.mark.parametrize(("offset", "works"), [
    (-users.INVITATION_LIFETIME.total_seconds(), True),  # at once
    (-1, True),                                           # its last second
    (0, False),                                           # the moment it expires
    (3600, False),
])
def test_an_invitation_works_until_it_expires(team, offset, works):
    account, members = team
    created = users.invite_user(account, email="late@example.test", name="Late",
                                role=Role.VIEWER, by=members["ann"], now=START)
    opened = START + users.INVITATION_LIFETIME + timedelta(seconds=offset)
    if works:
        user = users.accept_invitation(created.token, password=NEW_PASSWORD, now=opened)
        assert (user.role, user.account_id, user.name) == (Role.VIEWER, account.id, "Late")
    else:
        with pytest.raises(users.InvitationUnusable) as unusable:
            users.accept_invitation(created.token, password=NEW_PASSWORD, now=opened)
        assert unusable.value.status == 410
        assert "expired" in unusable.value.message


@pytest.mark.parametrize(("spoil", "status", "words"), [
    ("accept", 410, "used already"),
    ("revoke", 410, "withdrawn"),
    ("other token", 404, "not valid"),
])
def test_a_used_revoked_or_unknown_link_does_not_work(team, spoil, status, words):
    account, members = team
    created = users.invite_user(account, email="once@example.test", name="Once",
                                role=Role.VIEWER, by=members["ann"])
    token = created.token
    if spoil == "accept":
        users.accept_invitation(token, password=NEW_PASSWORD)
    elif spoil == "revoke":
        users.revoke_invitation(created.invitation, by=members["ann"])
    else:
        token = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(users.InvitationUnusable) as unusable:
        users.accept_invitation(token, password=NEW_PASSWORD)
    assert (unusable.value.status, words in unusable.value.message) == (status, True)
    made = db.session.scalars(select(User).where(User.email == "once@example.test")).all()
    assert len(made) == (1 if spoil == "accept" else 0)


def test_signing_up_is_audited_as_the_new_user(team):
    account, members = team
    created = users.invite_user(account, email="joins@example.test", name="Joins",
                                role=Role.ADMIN, by=members["ann"])
    user = users.accept_invitation(created.token, password=NEW_PASSWORD)
    [entry] = entries(account.id, "user.joined")
    assert (entry.actor_user_id, entry.actor_name) == (user.id, "joins@example.test")
    assert created.invitation.user_id == user.id and created.invitation.accepted_at


@pytest.mark.parametrize(("password", "words"), [
    ("short", "at least"),
    ("password1234", "too common"),
    ("joins-their-name-joins", "e-mail address"),
])
def test_sign_up_keeps_the_password_rules(team, password, words):
    account, members = team
    created = users.invite_user(account, email="joins@example.test", name="Joins",
                                role=Role.VIEWER, by=members["ann"])
    with pytest.raises(users.UserChangeError) as refused:
        users.accept_invitation(created.token, password=password)
    assert refused.value.field == "password" and words in refused.value.message
    assert created.invitation.is_open


def test_who_cannot_be_invited(team, factory):
    account, members = team
    other_tenant_user = factory.user(Role.VIEWER)
    users.invite_user(account, email="pending@example.test", name="P", role=Role.VIEWER,
                      by=members["ann"])
    cases = [
        (members["bill"].email, "a user of your account already"),
        (other_tenant_user.email.upper(), "in use in the Partner Portal"),
        ("PENDING@example.test", "open invitation already"),
    ]
    for email, words in cases:
        with pytest.raises(users.UserChangeError) as refused:
            users.invite_user(account, email=email, name="X", role=Role.VIEWER,
                              by=members["ann"])
        assert refused.value.field == "email" and words in refused.value.message, email
    with pytest.raises(users.UserChangeError) as refused:
        users.invite_user(account, email="staffer@example.test", name="X", role=Role.STAFF,
                          by=members["ann"])
    assert refused.value.field == "role"


def test_a_revoked_invitation_can_be_sent_again_and_not_revoked_twice(team):
    account, members = team
    first = users.invite_user(account, email="again@example.test", name="Again",
                              role=Role.VIEWER, by=members["ann"])
    users.revoke_invitation(first.invitation, by=members["ann"])
    with pytest.raises(users.UserChangeError):
        users.revoke_invitation(first.invitation, by=members["ann"])
    second = users.invite_user(account, email="again@example.test", name="Again",
                               role=Role.VIEWER, by=members["ann"])
    assert second.token != first.token
    assert [i.id for i in users.pending_invitations(account.id)] == [second.invitation.id]
