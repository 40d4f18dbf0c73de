import click

from app.demo import bp, services
from app.extensions import db


@bp.cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option("--accounts", type=click.IntRange(0, 100_000), default=0,
              help="Also make this many benchmark accounts of ~100 subscriptions each.")
@click.option("--months", type=click.IntRange(1, 120), default=24,
              help="Months of billing history of the benchmark accounts.")
def seed_command(if_empty: bool, accounts: int, months: int) -> None:
    """Create the demo accounts, users and billing history (and benchmark data)."""
    if if_empty and not services.database_is_empty():
        click.echo("The database already has users; nothing seeded.")
        return
    click.echo("Seeding the demo accounts and their billing history…")
    created = services.seed_demo()
    db.session.commit()
    click.echo(f"Seeded {len(created)} demo users.")
    if accounts:
        with click.progressbar(length=months, label=f"Billing {accounts} accounts") as bar:
            ids = services.seed_bulk(accounts, months, progress=bar.update)
        click.echo(f"Seeded {len(ids)} benchmark accounts, billed for {months} months.")
