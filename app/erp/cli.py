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
            purge_expired_keys()
            db.session.commit()
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
