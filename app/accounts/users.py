"""Users and roles of an account (SPEC §10): inviting a user with a one-time sign-up link,
signing up through it, changing a user's role, deactivating and reactivating a user. Each
change is written to the audit log. Services flush; the request commits.

The last-admin rule: an account always keeps at least one active admin, so no change (to
another user or to oneself) may demote or deactivate its last one.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import abort
from sqlalchemy import delete, func, select

from app.accounts.models import Account, Role, User, UserSession
from app.accounts.services import create_user, normalise_email, password_problems
from app.accounts.users_models import Invitation
from app.audit.services import audit
from app.errors import DomainError
from app.extensions import db

# How long a sign-up link works after the admin creates it (quoted by `users-and-roles`).
INVITATION_LIFETIME = timedelta(days=7)
# The roles an admin may give: staff belongs to the distributor, never to an account.
ACCOUNT_ROLES = (Role.ADMIN, Role.BILLING, Role.VIEWER)
ROLE_LABELS = {Role.ADMIN: "Admin", Role.BILLING: "Billing", Role.VIEWER: "Viewer"}
LAST_ADMIN_MESSAGE = ("{name} is the last active admin of the account. Make another user an "
                      "admin first, so that someone can still manage users.")


class UserChangeError(DomainError):
    """A change to a user or an invitation was refused; `field` names the form field it is
    about (shown next to it)."""

    status = 409

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvitationUnusable(DomainError):
    """A sign-up link that is unknown (404), or used, revoked or expired (410)."""

    status = 410


def _now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _lock_account(account_id: int) -> Account:
    """The account row locked until the transaction ends: changes to its users' roles and
    states take turns, so two admins demoting each other at once cannot leave none."""
    return db.session.scalar(
        select(Account).where(Account.id == account_id).with_for_update()
        .execution_options(populate_existing=True)
    )


def _active_admins(account_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(User).where(
        User.account_id == account_id, User.role == Role.ADMIN, User.active.is_(True),
    )) or 0


def _refuse_if_last_admin(user: User, message_field: str) -> None:
    if user.role == Role.ADMIN and user.active and _active_admins(user.account_id) <= 1:
        raise UserChangeError(LAST_ADMIN_MESSAGE.format(name=user.name), field=message_field)


# Loading ----------------------------------------------------------------------------------


def get_user_or_404(account_id: int, user_id: int) -> User:
    """The account's user with this id. Aborts with 404 otherwise (another account's user is
    not found, never forbidden)."""
    user = db.session.scalar(select(User).where(User.id == user_id,
                                                User.account_id == account_id))
    if user is None:
        abort(404)
    return user


def get_invitation_or_404(account_id: int, invitation_id: int) -> Invitation:
    """The account's invitation with this id; aborts with 404 otherwise."""
    invitation = db.session.scalar(select(Invitation).where(
        Invitation.id == invitation_id, Invitation.account_id == account_id))
    if invitation is None:
        abort(404)
    return invitation


def list_users(account_id: int) -> list[User]:
    """The account's users: active ones first, then by name."""
    return list(db.session.scalars(
        select(User).where(User.account_id == account_id)
        .order_by(User.active.desc(), func.lower(User.name), User.id)
    ))


def pending_invitations(account_id: int, now: datetime | None = None) -> list[Invitation]:
    """Invitations neither used nor revoked, expired ones included (so they can be revoked
    and sent again), newest first."""
    return list(db.session.scalars(
        select(Invitation).where(Invitation.account_id == account_id,
                                 Invitation.accepted_at.is_(None),
                                 Invitation.revoked_at.is_(None))
        .order_by(Invitation.created_at.desc(), Invitation.id.desc())
    ))


# Invitations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # to build the link from, once: only its hash is stored


def invite_user(account: Account, *, email: str, name: str, role: Role, by: User,
                now: datetime | None = None) -> NewInvitation:
    """An invitation with a new random token, valid for INVITATION_LIFETIME. Raises
    UserChangeError (on `email`) when the address is a user already or has an open invitation
    of the account, and (on `role`) for a role an account cannot give."""
    if role not in ACCOUNT_ROLES:
        raise UserChangeError("Choose admin, billing or viewer.", field="role")
    email = normalise_email(email)
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is not None and existing.account_id == account.id:
        raise UserChangeError(f"{email} is a user of your account already.", field="email")
    if existing is not None:
        raise UserChangeError("This e-mail address cannot be invited: it is in use in the "
                              "Partner Portal already. Use another address.", field="email")
    open_one = db.session.scalar(select(Invitation.id).where(
        Invitation.account_id == account.id, Invitation.email == email,
        Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)))
    if open_one is not None:
        raise UserChangeError(f"{email} has an open invitation already. Revoke it below to "
                              "make a new link.", field="email")
    now = now or _now()
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        account_id=account.id, email=email, name=name.strip(), role=role,
        token_hash=token_hash(token), invited_by_id=by.id, created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    audit("user.invited", account_id=account.id, actor=by, details={
        "invitation_id": invitation.id, "email": email, "role": role.value,
        "expires_at": invitation.expires_at.isoformat(timespec="seconds"),
    })
    return NewInvitation(invitation, token)


def revoke_invitation(invitation: Invitation, *, by: User,
                      now: datetime | None = None) -> Invitation:
    """Withdraw an open invitation: its link stops working. Raises UserChangeError when it
    was used or revoked already."""
    invitation = db.session.scalar(select(Invitation).where(Invitation.id == invitation.id)
                                   .with_for_update().execution_options(populate_existing=True))
    if not invitation.is_open:
        raise UserChangeError(f"The invitation of {invitation.email} was "
                              f"{'used' if invitation.accepted_at else 'revoked'} already.")
    invitation.revoked_at = now or _now()
    db.session.flush()
    audit("user.invitation_revoked", account_id=invitation.account_id, actor=by, details={
        "invitation_id": invitation.id, "email": invitation.email})
    return invitation


def invitation_for_token(token: str, now: datetime | None = None, *,
                         lock: bool = False) -> Invitation:
    """The open, unexpired invitation of a sign-up link (`lock`: locked until the transaction
    ends, read afresh). Raises InvitationUnusable: 404 for an unknown link, 410 (saying why)
    for one used, revoked or expired."""
    query = select(Invitation).where(Invitation.token_hash == token_hash(token))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    invitation = db.session.scalar(query)
    if invitation is None:
        raise InvitationUnusable("This sign-up link is not valid. Check that you copied all of "
                                 "it, or ask an admin of your company for a new one.", status=404)
    if invitation.accepted_at is not None:
        raise InvitationUnusable("This sign-up link was used already. Sign in with the e-mail "
                                 "address and password chosen then.")
    if invitation.revoked_at is not None:
        raise InvitationUnusable("This sign-up link was withdrawn. Ask an admin of your "
                                 "company for a new one.")
    if (now or _now()) >= invitation.expires_at:
        raise InvitationUnusable("This sign-up link has expired. Ask an admin of your company "
                                 "for a new one.")
    return invitation


def accept_invitation(token: str, *, password: str, now: datetime | None = None) -> User:
    """Sign up through a link: the user is created with the invitation's e-mail, name and role,
    and the link is used up. Raises InvitationUnusable (see `invitation_for_token`), and
    UserChangeError (on `password`) for a password the rules refuse or (on `email`) when the
    address became a user meanwhile."""
    now = now or _now()
    # Locked, so that two sign-ups through one link at once make one user.
    invitation = invitation_for_token(token, now, lock=True)
    problems = password_problems(password, invitation.email)
    if problems:
        raise UserChangeError(" ".join(problems), field="password")
    if db.session.scalar(select(User.id).where(User.email == invitation.email)) is not None:
        raise UserChangeError("This e-mail address became a user of the Partner Portal in the "
                              "meantime. Sign in instead.", field="email")
    user = create_user(email=invitation.email, name=invitation.name, password=password,
                       role=invitation.role, account=invitation.account)
    invitation.accepted_at = now
    invitation.user_id = user.id
    db.session.flush()
    audit("user.joined", account_id=invitation.account_id, actor=user, details={
        "invitation_id": invitation.id, "user_id": user.id, "email": user.email,
        "role": user.role.value})
    return user


# Roles and states -------------------------------------------------------------------------


def change_role(user: User, role: Role, *, by: User) -> bool:
    """Give the user another role of ACCOUNT_ROLES. Returns False (recording nothing) when the
    role is the same. Raises UserChangeError (on `role`) for a role an account cannot give, or
    when it would demote the account's last active admin."""
    if role not in ACCOUNT_ROLES:
        raise UserChangeError("Choose admin, billing or viewer.", field="role")
    _lock_account(user.account_id)
    db.session.refresh(user)
    if user.role == role:
        return False
    if role != Role.ADMIN:
        _refuse_if_last_admin(user, "role")
    before = user.role
    user.role = role
    db.session.flush()
    audit("user.role_changed", account_id=user.account_id, actor=by, details={
        "user_id": user.id, "email": user.email, "from": before.value, "to": role.value})
    return True


def deactivate_user(user: User, *, by: User) -> bool:
    """Deactivate the user: they cannot sign in, and their sessions end at once. Returns False
    when they were inactive already. Raises UserChangeError when they are the account's last
    active admin."""
    _lock_account(user.account_id)
    db.session.refresh(user)
    if not user.active:
        return False
    _refuse_if_last_admin(user, "active")
    user.active = False
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))
    db.session.flush()
    audit("user.deactivated", account_id=user.account_id, actor=by, details={
        "user_id": user.id, "email": user.email, "role": user.role.value})
    return True


def reactivate_user(user: User, *, by: User) -> bool:
    """Let a deactivated user sign in again (with their role as it was). Returns False when
    they were active already."""
    _lock_account(user.account_id)
    db.session.refresh(user)
    if user.active:
        return False
    user.active = True
    db.session.flush()
    audit("user.reactivated", account_id=user.account_id, actor=by, details={
        "user_id": user.id, "email": user.email, "role": user.role.value})
    return True
