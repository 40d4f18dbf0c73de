import click

from app.demo import bp, services
from app.extensions import db


@bp.cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def seed_command(if_empty: bool) -> None:
    """Create the demo accounts and users of the public contract."""
    if if_empty and not services.database_is_empty():
        click.echo("The database already has users; nothing seeded.")
        return
    created = services.seed_demo()
    db.session.commit()
    click.echo(f"Seeded {len(created)} demo users.")
