import signal
import time

import click
from flask import current_app

from app.erp import bp, tokens
from app.erp.api.idempotency import purge_expired_keys
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
    PortalError,
    StandInErp,
    SubscriptionReport,
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
            purge_expired_keys()
            db.session.commit()
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


DAY = click.DateTime(["%Y-%m-%d"])
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
@click.option("--change", "changes", multiple=True, nargs=4,
              type=(str, click.IntRange(min=1), click.IntRange(min=0), DAY),
              metavar="ACCOUNT SUBSCRIPTION_ID QUANTITY YYYY-MM-DD",
              help="Report a quantity change effective on that day (possibly in the past) at "
                   "start. Repeatable.")
@click.option("--cancel", "cancellations", multiple=True, nargs=3,
              type=(str, click.IntRange(min=1), DAY),
              metavar="ACCOUNT SUBSCRIPTION_ID LAST_DAY",
              help="Report a cancellation with that last day of service (possibly in the past) "
                   "at start. Repeatable.")
def simulate_command(portal: str, decision: str, delay: float, port: int,
                     changes: tuple, cancellations: tuple) -> None:
    """Run a stand-in ERP on loopback that receives the webhooks and answers through the API."""
    if current_app.config["ERP_WEBHOOK_URL"]:
        raise click.UsageError("ERP_WEBHOOK_URL names an ERP already: the stand-in would take "
                               "its events. Unset it to simulate.")
    token_row, token = tokens.create_token("flask erp simulate")
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
    reports = [SubscriptionReport(account, subscription, day.date(), quantity)
               for account, subscription, quantity, day in changes]
    reports += [SubscriptionReport(account, subscription, day.date())
                for account, subscription, day in cancellations]
    try:
        with erp:
            for report in reports:
                try:
                    erp.report(report)
                except PortalError as error:
                    click.echo(f"Not reported: {report.describe()}: {error}")
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
        tokens.revoke_token(token_row.prefix)
        db.session.commit()
        db.session.remove()


@bp.cli.group("token")
def token_group() -> None:
    """Bearer tokens of the ERP for the inbound API (/api/erp/v1)."""


@token_group.command("create")
@click.option("--name", required=True, help="Who uses the token, e.g. \"ERP production\".")
def token_create_command(name: str) -> None:
    """Create a token and print it once: it is stored only as a hash."""
    try:
        token, text = tokens.create_token(name)
    except tokens.TokenError as error:
        raise click.UsageError(str(error)) from error
    db.session.commit()
    click.echo(f"Token {token.prefix} ({token.name}) created. Copy it now; it is not shown "
               "again:")
    click.echo(text)


@token_group.command("list")
def token_list_command() -> None:
    """Every token: prefix, name, created, last used, revoked."""
    rows = tokens.list_tokens()
    if not rows:
        click.echo("No tokens. Create one with `flask erp token create --name NAME`.")
    for token in rows:
        used = token.last_used_at.isoformat(timespec="seconds") if token.last_used_at else "never"
        state = (f"revoked {token.revoked_at.isoformat(timespec='seconds')}"
                 if token.revoked_at else "active")
        click.echo(f"{token.prefix}  {token.name}  created "
                   f"{token.created_at.isoformat(timespec='seconds')}  last used {used}  {state}")


@token_group.command("revoke")
@click.argument("prefix")
def token_revoke_command(prefix: str) -> None:
    """Revoke the token with PREFIX (the 16 characters after "erp_"): its calls get 401."""
    try:
        token = tokens.revoke_token(prefix)
    except tokens.TokenError as error:
        raise click.UsageError(str(error)) from error
    db.session.commit()
    click.echo(f"Token {token.prefix} ({token.name}) is revoked.")
