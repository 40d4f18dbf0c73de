import time

import click
from flask import current_app

from app.erp import bp
from app.erp.deliver import (
    POLL_INTERVAL,
    Deliverer,
    DeliveryResult,
    ReplayRefused,
    WebhookConfigError,
    replay_dead_events,
    waiting_count,
)
from app.extensions import db


def _summary(result: DeliveryResult) -> str:
    return (f"{result.delivered} delivered, {result.retrying} to retry later, "
            f"{result.dead} dead-lettered.")


@bp.cli.command("deliver")
@click.option("--forever", is_flag=True, help="Keep delivering; wait a little when none is due.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many events per pass.")
def deliver_command(forever: bool, limit: int | None) -> None:
    """Post the due outbox events to ERP_WEBHOOK_URL, signed (one pass unless --forever)."""
    url = current_app.config["ERP_WEBHOOK_URL"]
    if not url:
        click.echo(f"ERP_WEBHOOK_URL is not set: nothing was sent; {waiting_count()} events "
                   "wait in the outbox.")
        return
    try:
        deliverer = Deliverer(url, current_app.config["ERP_WEBHOOK_SECRET"])
    except WebhookConfigError as error:
        raise click.UsageError(str(error)) from error
    try:
        while True:
            result = deliverer.deliver_due(limit)
            if result.attempted or not forever:
                click.echo(_summary(result))
            if not forever:
                break
            if not result.attempted:
                time.sleep(POLL_INTERVAL)
    except KeyboardInterrupt:
        click.echo("Stopped.")
    finally:
        deliverer.close()
        db.session.remove()


@bp.cli.command("replay")
@click.option("--event", "event_id", help="The id (evt_…) of one dead-lettered event.")
@click.option("--dead", is_flag=True, help="Every dead-lettered event.")
def replay_command(event_id: str | None, dead: bool) -> None:
    """Put dead-lettered events back in the queue, due now."""
    if bool(event_id) == dead:
        raise click.UsageError("Give either --event ID or --dead.")
    try:
        count = replay_dead_events(event_id)
    except ReplayRefused as error:
        raise click.UsageError(str(error)) from error
    db.session.commit()
    click.echo(f"{count} dead-lettered events are due again.")
