import signal
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
from app.erp.simulate import (
    DEFAULT_DELAY,
    DEFAULT_PORTAL,
    Decision,
    StandInErp,
    new_webhook_secret,
    portal_client,
)
from app.erp.webhook_endpoint import (
    DeliveryTarget,
    delivery_target,
    provision_endpoint,
    withdraw_endpoint,
)
from app.extensions import db


def _summary(result: DeliveryResult) -> str:
    return (f"{result.delivered} delivered, {result.retrying} to retry later, "
            f"{result.dead} dead-lettered.")


def _deliverer(target: DeliveryTarget) -> Deliverer:
    try:
        return Deliverer(target.url, target.secret)
    except WebhookConfigError as error:
        raise click.UsageError(str(error)) from error


@bp.cli.command("deliver")
@click.option("--forever", is_flag=True, help="Keep delivering; wait a little when none is due.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="At most this many events per pass.")
def deliver_command(forever: bool, limit: int | None) -> None:
    """Post the due outbox events to ERP_WEBHOOK_URL (or to the endpoint `flask erp simulate`
    provisioned), signed (one pass unless --forever)."""
    target, deliverer = None, None
    try:
        while True:
            # A stand-in ERP may start or stop while this runs: look again on every pass.
            latest = delivery_target()
            db.session.rollback()
            if latest != target:
                if deliverer is not None:
                    deliverer.close()
                target, deliverer = latest, latest and _deliverer(latest)
            if deliverer is None:
                if not forever:
                    click.echo("ERP_WEBHOOK_URL is not set and no stand-in ERP runs: nothing "
                               f"was sent; {waiting_count()} events wait in the outbox.")
                    break
                time.sleep(POLL_INTERVAL)
                continue
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
        if deliverer is not None:
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


SIMULATE_POLL = 0.5  # seconds between the stand-in's delivery passes: answers come quickly


def _stop_on_sigterm(*_) -> None:
    raise KeyboardInterrupt


@bp.cli.command("simulate")
@click.option("--portal", default=DEFAULT_PORTAL, show_default=True,
              help="The portal's base URL, whose inbound API the stand-in answers through.")
@click.option("--decision", type=click.Choice(["approve", "reject"]), default="approve",
              show_default=True, help="How the stand-in decides every change request.")
@click.option("--delay", type=click.FloatRange(0, 3600), default=DEFAULT_DELAY,
              show_default=True,
              help="Seconds before acknowledging a request, and again before deciding it.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port on 127.0.0.1 to receive webhooks on (default: any free port).")
def simulate_command(portal: str, decision: str, delay: float, port: int) -> None:
    """Run a stand-in ERP on loopback that receives the webhooks and answers through the API."""
    if current_app.config["ERP_WEBHOOK_URL"]:
        raise click.UsageError("ERP_WEBHOOK_URL names an ERP already: the stand-in would take "
                               "its events. Unset it to simulate.")
    from app.erp.tokens import create_token, revoke_token  # TEMPORARY until merge
    token_row, token = create_token("flask erp simulate")
    secret = new_webhook_secret()
    erp = StandInErp(portal_client(portal, token), secret,
                     Decision(approve=decision == "approve", delay=delay),
                     log=click.echo, listen_port=port)
    provision_endpoint(erp.url, secret, by="flask erp simulate")
    db.session.commit()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    deliverer = Deliverer(erp.url, secret)
    click.echo(f"Stand-in ERP listening on {erp.url}, answering through {portal}. "
               f"Every change request will be {decision}d. Ctrl+C stops it.")
    try:
        with erp:
            while True:
                result = deliverer.deliver_due()
                if result.attempted:
                    click.echo(_summary(result))
                time.sleep(SIMULATE_POLL)
    except KeyboardInterrupt:
        click.echo("Stopped: events wait in the outbox until an ERP takes them again.")
    finally:
        deliverer.close()
        erp.api.close()
        db.session.rollback()
        withdraw_endpoint(erp.url)
        revoke_token(token_row)
        db.session.commit()
        db.session.remove()
