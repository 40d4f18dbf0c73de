"""`flask legacy import FILE`: historical invoices from the legacy system's CSV export."""

from pathlib import Path

import click
from flask import Blueprint

from app.billing.cutover import configured_cutover
from app.billing.legacy import import_file
from app.extensions import db

bp = Blueprint("legacy", __name__, cli_group="legacy")


@bp.cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Import historical invoices (idempotent; bad invoices are rejected whole and reported).

    Exits with status 1 when any row was rejected: each is reported with its line in the file
    and the reason."""
    report = import_file(file, cutover=configured_cutover())
    db.session.commit()
    completed = f"{len(report.completed)} completed, " if report.completed else ""
    click.echo(f"{len(report.imported)} invoices imported, {len(report.already_imported)} "
               f"already imported, {completed}{len(report.rejected_invoices)} rejected.")
    for rejection in report.rejected:
        invoice = f" ({rejection.invoice_number})" if rejection.invoice_number else ""
        click.echo(f"  line {rejection.line}{invoice}: {rejection.reason}", err=True)
    if report.rejected:
        click.echo("Nothing of a rejected invoice was imported. Correct the rows above and "
                   "import the whole file again: invoices already imported are skipped.",
                   err=True)
        raise SystemExit(1)
