"""The cutover: the one rule that splits invoices between the legacy billing system and the
billing engine. The engine, the legacy importer, the history page and the articles all use it.

`CUTOVER_DATE` (April 2, 2018 by default) is the day billing moved to the ERP.

- An invoice dated **before** the cutover date is historical: the legacy system issued it, and
  only such invoices are imported (`flask legacy import`).
- The billing engine's invoices are dated **on or after** the cutover date. Its first invoice is
  the one for the month of the cutover (the "cutover month", April 2018) and is dated the
  cutover date itself; every later invoice is dated the first day of its month.
- The engine bills service from the first day of the cutover month, as every invoice does for
  its month: the legacy system's invoices billed service up to the last day of the month
  before. So an annual term that is running on that day is charged on the engine's first
  invoice from that day to the end of the term, prorated daily; it renews as usual after.
"""

from datetime import date, timedelta

from flask import current_app


def configured_cutover() -> date:
    """The cutover date of the running application (`CUTOVER_DATE`)."""
    return current_app.config["CUTOVER_DATE"]


def is_historical(invoice_date: date, cutover: date) -> bool:
    """Whether an invoice dated `invoice_date` belongs to the legacy system."""
    return invoice_date < cutover


def first_engine_period_start(cutover: date) -> date:
    """The first day of the cutover month: the engine's first billing period starts here, and
    so does the service it bills."""
    return cutover.replace(day=1)


def engine_issue_date(period_start: date, cutover: date) -> date:
    """The date of the engine's invoice for the month starting `period_start`: the month's first
    day, or the cutover date for the cutover month (never before the cutover)."""
    return max(period_start, cutover)


def first_engine_arrears_start(cutover: date) -> date:
    """The first day of the month before the cutover month: the engine's first invoice bills
    that month's usage, prorations and fees in arrears. Anything dated earlier is the legacy
    system's."""
    return (first_engine_period_start(cutover) - timedelta(days=1)).replace(day=1)
