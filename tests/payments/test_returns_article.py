"""The `ach-returns` article against the code: every R-code it explains is the table's own
(`RETURN_CODES`, word for word), the codes it says turn the bank account off are the ones that
do, and every number in it is a constant of the code (or a worked example the tests run)."""

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from app.formatting import medium_date
from app.payments.cli import DEFAULT_SETTLE_DAYS, MAX_SETTLE_DAYS, summary_line
from app.payments.gateways.ach_returns import (
    R01_MAX_RETRIES,
    R01_RETRY_WINDOW_DAYS,
    RETURN_CODES,
    describe_return,
)
from app.payments.gateways.base import EventType, GatewayEvent
from app.payments.gateways.sandbox import (
    ACH_SETTLEMENT_BUSINESS_DAYS,
    TEST_BANK_ACCOUNTS,
    TEST_ROUTING_NUMBER,
)
from app.payments.methods import VERIFICATION_DAYS
from app.payments.settlement import EventOutcome, EventResult
from tests.payments.test_returns import LAST_DAY, RETURNED_ON

ARTICLE = Path(__file__).parents[2] / "content/articles/ach-returns.md"
TEXT = ARTICLE.read_text().split("\n---\n", 1)[1]  # the body, after the front matter
TABLE_ROW = re.compile(r"^\| \*\*(R\d\d)\*\* \| (.+?) \| (.+?) \| (.+?) \|$", re.M)
SUMMARY = re.compile(r'a summary such as\s+"([^"]+)"')


def section(heading: str) -> str:
    return TEXT.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_the_table_explains_every_code_word_for_word():
    rows = TABLE_ROW.findall(TEXT)
    assert [code for code, *_ in rows] == list(RETURN_CODES)
    for code, title, explanation, account in rows:
        entry = RETURN_CODES[code]
        assert (title, explanation) == (entry.title, entry.explanation)
        assert account.startswith("Turned off" if entry.disables_method else "Stays on file")
        assert ("can be retried" in account) is entry.retryable


def test_every_code_named_is_one_we_handle():
    assert set(re.findall(r"\bR\d\d\b", TEXT)) == set(RETURN_CODES)


def test_the_codes_that_turn_the_account_off_are_the_ones_that_do():
    sentence = re.search(r"After a return with ([^,]+(?:, [^,]+)*) or (R\d\d),",
                         section("When your bank account is turned off"))
    named = re.findall(r"R\d\d", sentence.group(0))
    assert named == [code for code, entry in RETURN_CODES.items() if entry.disables_method]
    # Any other code: turned off, as the article says.
    assert describe_return("R99").disables_method
    assert "the bank account is turned off" in section("Return codes in plain words")


def test_the_retry_rules_are_the_constants():
    rules = section("Retrying a payment returned for insufficient funds")
    assert f"**At most {R01_MAX_RETRIES} retries** of a payment." in rules
    assert (f"**Until {R01_RETRY_WINDOW_DAYS} days have passed since your bank first returned "
            "the payment.**") in rules
    assert [code for code, entry in RETURN_CODES.items() if entry.retryable] == ["R01"]
    # The worked example: test_returns runs these two days through retry_status.
    assert RETURNED_ON + timedelta(days=R01_RETRY_WINDOW_DAYS - 1) == LAST_DAY
    assert (f"first returned on {medium_date(RETURNED_ON)} can be retried up to and including "
            f"{medium_date(LAST_DAY)}.") in " ".join(rules.split())


def test_the_sandbox_accounts_and_the_command_are_the_codes():
    sandbox = " ".join(section("Testing in the sandbox").split())
    assert f"With routing number `{TEST_ROUTING_NUMBER}`," in sandbox
    said = dict(re.findall(r"`(\d{12})` (?:settles|is returned with|with) ?(R\d\d)?", sandbox))
    assert {number: code or None for number, code in said.items()} == TEST_BANK_ACCOUNTS
    assert (f"forward by {DEFAULT_SETTLE_DAYS} business days (`--days N` for another number, "
            f"from 0 to {MAX_SETTLE_DAYS}; `--days 0` only handles what is due)") in sandbox
    assert f"not verified within {VERIFICATION_DAYS} days" in sandbox
    assert f"settles, {ACH_SETTLEMENT_BUSINESS_DAYS} business days" in TEXT


def test_the_summary_quoted_is_the_commands():
    event = GatewayEvent("evt", EventType.CHARGE_RETURNED, "ch", "key", "ba", Decimal("1.00"),
                         "USD", RETURNED_ON, "R01")
    outcomes = [EventOutcome(event, EventResult.SETTLED),
                EventOutcome(event, EventResult.RETURNED, return_code=RETURN_CODES["R01"])]
    assert SUMMARY.search(" ".join(TEXT.split())).group(1) == summary_line(outcomes, [], 0)


def test_every_number_is_a_constant_or_a_checked_example():
    known = {
        str(ACH_SETTLEMENT_BUSINESS_DAYS), str(DEFAULT_SETTLE_DAYS), str(R01_MAX_RETRIES),
        str(R01_RETRY_WINDOW_DAYS), "0", str(MAX_SETTLE_DAYS), str(VERIFICATION_DAYS),
        TEST_ROUTING_NUMBER, *TEST_BANK_ACCOUNTS,
    }
    assert str(ACH_SETTLEMENT_BUSINESS_DAYS) == str(DEFAULT_SETTLE_DAYS) == "3"
    steps = re.sub(r"(?m)^\d+\. ", "", TEXT)  # the numbers of a numbered list
    text = SUMMARY.sub("", " ".join(steps.split()))  # checked against the command above
    for day in (RETURNED_ON, LAST_DAY):  # the worked example, checked above
        text = text.replace(medium_date(day), "")
    numbers = set(re.findall(r"(?<![\w.])\d+", text))
    assert numbers - known == set()
