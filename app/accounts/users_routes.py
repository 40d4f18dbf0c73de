"""Users and roles pages (SPEC §10, admin only): the account's users and open invitations,
inviting a user, changing a role, deactivating and reactivating; and the public sign-up page
of an invitation link. User and invitation ids are looked up within the signed-in admin's
account, so another account's id is a 404."""

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.accounts import bp as auth_bp
from app.accounts import services, users
from app.accounts.models import Account, Role, User
from app.accounts.users_forms import InviteForm, RoleForm, SignupForm
from app.extensions import db
from app.web import (
    current_account_id,
    htmx_redirect,
    is_fragment_request,
    public,
    render,
    roles_required,
)

bp = Blueprint("users", __name__)


@dataclass(frozen=True)
class UserRow:
    """One user as the users table shows them, with the role form and any message."""

    user: User
    role_label: str
    is_self: bool
    form: RoleForm
    message: str | None = None
    error: str | None = None
    error_field: str | None = None


def _row(user: User, **extra) -> UserRow:
    form = RoleForm(formdata=None, role=user.role.value)
    return UserRow(user, users.ROLE_LABELS.get(user.role, user.role.value),
                   user.id == current_user.id, form, **extra)


def _account() -> Account:
    return db.session.get(Account, current_account_id())


def _list_context(account: Account, rows: dict[int, UserRow] | None = None) -> dict:
    rows = rows or {}
    return {
        "account": account,
        "rows": [rows.get(user.id) or _row(user) for user in users.list_users(account.id)],
        "invitations": users.pending_invitations(account.id),
        "now": datetime.now(UTC),
        "lifetime_days": users.INVITATION_LIFETIME.days,
    }


def _answer(user: User, message: str | None = None, error: str | None = None,
            error_field: str | None = None):
    """After a change to one user: their row for htmx (422 with an error); otherwise the page
    (422 with the error next to the control), or a redirect to it with the message."""
    row = _row(user, message=message, error=error, error_field=error_field)
    status = 422 if error else 200
    if is_fragment_request():
        return render_template("accounts/_user_row.html", row=row), status
    if error:
        return render_template("accounts/users.html",
                               **_list_context(_account(), {user.id: row})), status
    flash(message, "success")
    return redirect(url_for("users.user_list"), code=303)


@bp.route("/account/users")
@roles_required(Role.ADMIN)
def user_list():
    return render("accounts/users.html", "accounts/_users.html", **_list_context(_account()))


@bp.route("/account/users/invite", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def invite():
    account = _account()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            created = users.invite_user(account, email=form.email.data, name=form.name.data,
                                        role=Role(form.role.data), by=current_user)
        except users.UserChangeError as refused:
            db.session.rollback()
            getattr(form, refused.field or "email").errors.append(refused.message)
        else:
            db.session.commit()
            link = url_for("auth.signup", token=created.token, _external=True)
            return render("accounts/invite.html", "accounts/_invite.html", form=form,
                          link=link, invitation=created.invitation,
                          lifetime_days=users.INVITATION_LIFETIME.days)
    status = 422 if form.errors else 200
    return render("accounts/invite.html", "accounts/_invite.html", form=form, link=None,
                  invitation=None, lifetime_days=users.INVITATION_LIFETIME.days), status


@bp.route("/account/users/<int:user_id>/role", methods=["POST"])
@roles_required(Role.ADMIN)
def change_role(user_id: int):
    user = users.get_user_or_404(current_account_id(), user_id)
    form = RoleForm()
    if not form.validate():
        return _answer(user, error=" ".join(form.role.errors), error_field="role")
    try:
        changed = users.change_role(user, Role(form.role.data), by=current_user)
    except users.UserChangeError as refused:
        db.session.rollback()
        return _answer(db.session.get(User, user_id), error=refused.message, error_field="role")
    db.session.commit()
    if user.id == current_user.id and user.role != Role.ADMIN:
        flash(f"You are now a {users.ROLE_LABELS[user.role].lower()} user of the account.",
              "success")
        return htmx_redirect(url_for("dashboard.index"))
    label = users.ROLE_LABELS[user.role]
    message = f"{user.name} is now {label.lower()}." if changed else \
        f"{user.name} was {label.lower()} already."
    return _answer(user, message=message)


@bp.route("/account/users/<int:user_id>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate(user_id: int):
    user = users.get_user_or_404(current_account_id(), user_id)
    try:
        users.deactivate_user(user, by=current_user)
    except users.UserChangeError as refused:
        db.session.rollback()
        return _answer(db.session.get(User, user_id), error=refused.message,
                       error_field="active")
    db.session.commit()
    if user.id == current_user.id:
        logout_user()
        session.clear()
        flash("You deactivated your own user, so you are signed out.", "info")
        return htmx_redirect(url_for("auth.login"))
    return _answer(user, message=f"{user.name} is deactivated and was signed out everywhere.")


@bp.route("/account/users/<int:user_id>/reactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def reactivate(user_id: int):
    user = users.get_user_or_404(current_account_id(), user_id)
    users.reactivate_user(user, by=current_user)
    db.session.commit()
    return _answer(user, message=f"{user.name} can sign in again.")


@bp.route("/account/users/invitations/<int:invitation_id>/revoke", methods=["POST"])
@roles_required(Role.ADMIN)
def revoke_invitation(invitation_id: int):
    account = _account()
    invitation = users.get_invitation_or_404(account.id, invitation_id)
    try:
        users.revoke_invitation(invitation, by=current_user)
    except users.UserChangeError as refused:
        db.session.rollback()
        message, tone = refused.message, "danger"
    else:
        db.session.commit()
        message, tone = f"The invitation of {invitation.email} was revoked.", "success"
    if is_fragment_request():
        return render_template("accounts/_users.html", **_list_context(account),
                               message=message, message_tone=tone)
    flash(message, tone)
    return redirect(url_for("users.user_list"), code=303)


@auth_bp.route("/signup/<token>", methods=["GET", "POST"])
@public
def signup(token: str):
    """The page an invitation link opens: the invitee chooses a password and is signed in."""
    try:
        invitation = users.invitation_for_token(token)
    except users.InvitationUnusable as unusable:
        return render("accounts/signup.html", invitation=None,
                      problem=unusable.message), unusable.status
    form = SignupForm()
    if form.validate_on_submit():
        try:
            user = users.accept_invitation(token, password=form.password.data)
        except users.InvitationUnusable as unusable:
            db.session.rollback()
            return render("accounts/signup.html", invitation=None,
                          problem=unusable.message), unusable.status
        except users.UserChangeError as refused:
            db.session.rollback()
            form.password.errors.append(refused.message)
        else:
            _sign_in(user)
            flash(f"Welcome, {user.name}. You are signed in to {user.account.legal_name}.",
                  "success")
            return htmx_redirect(url_for("dashboard.index"))
    return render("accounts/signup.html", invitation=invitation, form=form, problem=None,
                  min_length=services.MIN_PASSWORD_LENGTH), 422 if form.errors else 200


def _sign_in(user: User) -> None:
    """Sign the new user in, ending whoever was signed in in this browser before."""
    if current_user.is_authenticated:
        services.end_session(current_user.session_token)
        logout_user()
    session.clear()
    services.start_session(user, ip_address=request.remote_addr,
                           user_agent=request.headers.get("User-Agent"))
    db.session.commit()
    login_user(user)
