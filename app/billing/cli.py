from datetime import date

import click
from sqlalchemy import func, select

from app.accounts.models import Account
from app.billing import bp
from app.billing.cutover import configured_cutover
from app.billing.engine import BillingError, check_period, run_billing
from app.billing.rating import Period
from app.extensions import db


@bp.cli.command("run")
@click.option("--period", "period_text", required=True, help="The month to bill, YYYY-MM.")
def run_command(period_text: str) -> None:
    """Issue one invoice per account for a period (idempotent, resumable)."""
    try:
        period = Period.parse(period_text)
        check_period(period, configured_cutover(), date.today())
    except (ValueError, BillingError) as error:
        raise click.BadParameter(str(error), param_hint="--period") from error
    total = db.session.scalar(select(func.count()).select_from(Account)) or 0
    with click.progressbar(length=total, label=f"Billing {period.key}") as bar:
        result = run_billing(period, progress=bar.update)
    click.echo(
        f"{period.key}: {len(result.issued)} invoices issued, {result.already_billed} accounts "
        f"already billed, {result.nothing_to_bill} with nothing to bill, "
        f"{result.held_by_another_worker} billed by another worker; "
        f"{len(result.credit_notes)} credit notes from corrections."
    )
