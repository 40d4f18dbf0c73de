from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user

from app.accounts import bp, services, throttle
from app.accounts.forms import ConfirmPasswordForm, LoginForm
from app.extensions import db, limiter, login_manager
from app.web import public, render


@login_manager.user_loader
def load_user(token: str):
    user = services.load_session_user(token)
    if db.session.info.pop(services.SESSION_CHANGED, False):
        # An expired session's removal, or its new last-seen time, is saved at once, before
        # the view runs, so that neither depends on the view's own transaction.
        db.session.commit()
    return user


def _safe_next(target: str | None) -> str:
    """Only a path on this site may follow sign-in (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("dashboard.index")


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _login_email_limit() -> str:
    return current_app.config["LOGIN_EMAIL_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@public
@limiter.shared_limit(_login_limit, throttle.ADDRESS_SCOPE, methods=["POST"],
                      key_func=throttle.client_address)
@limiter.shared_limit(_login_email_limit, throttle.EMAIL_SCOPE, methods=["POST"],
                      key_func=throttle.email_and_address_key)
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        device = throttle.trusted_device(form.email.data)
        try:
            throttle.check_sign_in_allowed(form.email.data, device)
        except throttle.SignInLocked as locked:
            form.email.errors.append(throttle.lockout_message(locked.retry_after))
            headers = {"Retry-After": str(locked.retry_after)}
            return render("auth/login.html", form=form), 429, headers
        user = services.authenticate(form.email.data, form.password.data)
        if user is None:
            throttle.record_failed_sign_in(form.email.data, device)
            form.password.errors.append("The e-mail address or password is not correct.")
        else:
            # A new session at sign-in: nothing from before (a planted cookie) carries over.
            session.clear()
            services.start_session(
                user,
                ip_address=request.remote_addr,
                user_agent=request.headers.get("User-Agent"),
            )
            db.session.commit()
            login_user(user)
            response = redirect(_safe_next(request.args.get("next")), code=303)
            throttle.remember_device(response, user.email)
            return response
    status = 422 if form.errors else 200
    return render("auth/login.html", form=form), status


@bp.route("/login/confirm", methods=["GET", "POST"])
@limiter.shared_limit(_login_limit, throttle.ADDRESS_SCOPE, methods=["POST"],
                      key_func=throttle.client_address)
@limiter.shared_limit(_login_email_limit, throttle.EMAIL_SCOPE, methods=["POST"],
                      key_func=throttle.signed_in_email_and_address_key)
def confirm_password():
    """"Confirm your password" before a sensitive change (app.accounts.reauth). A wrong
    password counts against the same sign-in limits and lockout as the sign-in page."""
    form = ConfirmPasswordForm()
    next_page = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        email = current_user.email
        device = throttle.trusted_device(email)
        try:
            throttle.check_sign_in_allowed(email, device)
        except throttle.SignInLocked as locked:
            form.password.errors.append(throttle.lockout_message(locked.retry_after))
            headers = {"Retry-After": str(locked.retry_after)}
            return _confirm_page(form, next_page), 429, headers
        if services.authenticate(email, form.password.data) is None:
            throttle.record_failed_sign_in(email, device)
            form.password.errors.append("The password is not correct.")
        else:
            services.record_reauthentication(current_user.session_token)
            db.session.commit()
            return redirect(next_page, code=303)
    return _confirm_page(form, next_page), 422 if form.errors else 200


def _confirm_page(form: ConfirmPasswordForm, next_page: str) -> str:
    minutes = int(services.REAUTHENTICATION_WINDOW.total_seconds() // 60)
    return render("auth/confirm_password.html", form=form, next_page=next_page,
                  window_minutes=minutes)


@bp.route("/logout", methods=["POST"])
@public
def logout():
    if current_user.is_authenticated:
        services.end_session(current_user.session_token)
        db.session.commit()
        logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("kb.index"), code=303)
