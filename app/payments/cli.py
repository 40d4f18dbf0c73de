"""`flask payments settle`: what the bank did with ACH payments since the last run (SPEC §8)."""

from collections import Counter
from typing import Protocol, runtime_checkable

import click

from app.extensions import db
from app.formatting import medium_date
from app.payments import bp
from app.payments.gateways import get_gateway
from app.payments.gateways.base import GatewayEvent
from app.payments.methods import expire_unverified_methods
from app.payments.settlement import (
    EventOutcome,
    EventResult,
    ReconcileOutcome,
    process_gateway_events,
    reconcile_unknown_payments,
    unknown_payment_ids,
)

# `--days`: business days the sandbox clock moves forward; by default the days an ACH debit
# takes to settle, so that one run settles what was paid today. At most a year of them.
DEFAULT_SETTLE_DAYS = 3
MAX_SETTLE_DAYS = 260
# Events counted for the progress bar (the bar only runs ahead when more are waiting).
COUNTED_EVENTS = 10_000


@runtime_checkable
class SimulatedClock(Protocol):
    """A gateway whose business date the operator moves (the sandbox). A real gateway keeps
    real time and simply delivers its events."""

    def advance(self, business_days: int) -> list[GatewayEvent]: ...


def _check_days(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if not 0 <= value <= MAX_SETTLE_DAYS:
        raise click.BadParameter(
            f"give a number of business days from 0 to {MAX_SETTLE_DAYS}, not {value}.")
    return value


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def summary_line(events: list[EventOutcome], reconciled: list[ReconcileOutcome],
                 expired: int) -> str:
    """"2 settled, 1 returned (R01 Insufficient funds), 0 unknown resolved, 0 bank accounts
    expired", and the bank accounts turned off when there are any."""
    settled = sum(outcome.result == EventResult.SETTLED for outcome in events)
    codes = Counter(f"{outcome.return_code.code} {outcome.return_code.title}"
                    for outcome in events if outcome.result == EventResult.RETURNED)
    returned = f"{codes.total()} returned"
    if len(codes) == 1:
        returned += f" ({next(iter(codes))})"
    elif codes:
        returned += f" ({', '.join(f'{count} {code}' for code, count in codes.items())})"
    resolved = sum(outcome.status is not None for outcome in reconciled)
    parts = [f"{settled} settled", returned, f"{resolved} unknown resolved",
             f"{_plural(expired, 'bank account', 'bank accounts')} expired"]
    disabled = sum(outcome.method_disabled for outcome in [*events, *reconciled])
    if disabled:
        parts.append(f"{_plural(disabled, 'bank account', 'bank accounts')} turned off")
    return ", ".join(parts)


@bp.cli.command("settle")
@click.option("--days", type=int, default=DEFAULT_SETTLE_DAYS, show_default=True,
              callback=_check_days,
              help="Business days to move the sandbox clock forward first (0: only what is "
                   "due now). A real gateway keeps real time; its events are processed.")
def settle_command(days: int) -> None:
    """Settle or return the ACH payments that fall due, reconcile payments the gateway did
    not answer for, and expire bank accounts not verified in time. Each event and payment is
    committed on its own; exits 1 when one needs a person to look at it."""
    gateway = get_gateway()
    if isinstance(gateway, SimulatedClock):
        gateway.advance(days)
        db.session.commit()
        click.echo(f"The {gateway.name} clock is at {medium_date(gateway.today())}.")
    elif days:
        click.echo(f"The {gateway.name} gateway keeps real time: processing its events only.")
    waiting = len(gateway.pending_events(limit=COUNTED_EVENTS)) + len(unknown_payment_ids())
    db.session.commit()  # the count's row locks go
    events: list[EventOutcome] = []
    reconciled: list[ReconcileOutcome] = []
    with click.progressbar(length=waiting, label="Settling payments") as bar:
        for outcome in process_gateway_events():
            db.session.commit()
            events.append(outcome)
            bar.update(1)
        for outcome in reconcile_unknown_payments():
            db.session.commit()
            reconciled.append(outcome)
            bar.update(1)
    expired = expire_unverified_methods(gateway.today())
    db.session.commit()
    problems = [outcome.problem for outcome in [*events, *reconciled] if outcome.problem]
    for problem in problems:
        click.echo(problem, err=True)
    click.echo(summary_line(events, reconciled, expired))
    if problems:
        raise SystemExit(1)
