"""The audit log page (admin only): the account's entries, newest first, by action."""

from flask import request, url_for

from app.accounts.models import Role
from app.audit import bp, services
from app.audit.forms import AuditFilterForm
from app.web import current_account_id, positive_int, render, roles_required


@bp.route("/audit")
@roles_required(Role.ADMIN)
def audit_log():
    form = AuditFilterForm(request.args)
    # An action the form does not offer is an error next to it, and the whole log is shown.
    action = form.action.data if "action" in request.args and form.validate() else None
    result = services.list_events(current_account_id(), action=action or None,
                                  page=request.args.get("page", 1, type=positive_int))
    args = {"action": action} if action else {}
    pages = {
        "previous": url_for("audit.audit_log", **args, page=result.page - 1)
        if result.page > 1 else None,
        "next": url_for("audit.audit_log", **args, page=result.page + 1)
        if result.page < result.pages else None,
    }
    return render("audit/audit_log.html", "audit/_events.html", form=form, result=result,
                  pages=pages, label=services.action_label, describe=services.describe_details)
