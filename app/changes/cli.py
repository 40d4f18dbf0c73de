"""`flask changes apply`: apply the approved changes whose effective date has come."""

from datetime import date

import click

from app.changes import bp
from app.changes.services import apply_due_changes
from app.extensions import db


@bp.cli.command("apply")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Apply as of this day (YYYY-MM-DD); default today.")
def apply_command(today) -> None:
    """Apply approved change requests whose effective date has come (idempotent)."""
    applied = apply_due_changes(today.date() if today else date.today())
    db.session.commit()
    click.echo(f"{applied} change{'' if applied == 1 else 's'} applied.")
