"""Account information and guided change requests (SPEC §10): the account page, the billing
contact, the change request flows (legal name, mailing address, tax information) and their
lifecycle with the ERP."""

from flask import Blueprint

bp = Blueprint("changes", __name__, url_prefix="/account", cli_group="changes")


@bp.record_once
def _apply_due_changes_before_billing(state) -> None:
    """Billing applies the changes whose effective date has come before it bills (billing
    does not import changes)."""
    from app.billing.hooks import register_before_billing
    from app.changes.services import apply_due_changes

    register_before_billing(state.app, apply_due_changes)


from app.changes import cli, routes  # noqa: E402, F401
