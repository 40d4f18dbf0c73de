"""The ACH return-code table that pages and articles explain returns with (SPEC §8)."""

import pytest

from app.payments.gateways.ach_returns import (
    R01_MAX_RETRIES,
    R01_RETRY_WINDOW_DAYS,
    RETURN_CODES,
    describe_return,
)


@pytest.mark.parametrize(
    ("code", "disables_method", "retryable", "words"),
    [
        ("R01", False, True, "enough money"),
        ("R02", True, False, "closed"),
        ("R03", True, False, "could not find"),
        ("R04", True, False, "not valid"),
        ("R08", False, False, "stop this payment"),
        ("R09", False, False, "not available yet"),
        ("R16", True, False, "frozen"),
        ("R20", True, False, "cannot be debited"),
        ("R29", True, False, "not to accept"),
    ],
)
def test_each_return_code_is_explained_and_says_whether_the_account_stays(
    code, disables_method, retryable, words
):
    entry = describe_return(code)
    assert entry.code == code
    assert entry.disables_method is disables_method
    assert entry.retryable is retryable
    assert words in entry.explanation
    assert ("turned this bank account off" in entry.explanation) is disables_method


def test_the_table_holds_the_codes_the_spec_names_and_other_company_account_returns():
    assert sorted(RETURN_CODES) == ["R01", "R02", "R03", "R04", "R08", "R09", "R16", "R20",
                                    "R29"]
    assert [code for code, entry in RETURN_CODES.items() if entry.retryable] == ["R01"]


def test_a_code_missing_from_the_table_turns_the_account_off_and_names_the_code():
    entry = describe_return("R17")
    assert entry.disables_method
    assert not entry.retryable
    assert "R17" in entry.explanation


def test_r01_retry_rule_is_the_specs():
    # SPEC §8: R01 may be retried at most twice within 180 days.
    assert (R01_MAX_RETRIES, R01_RETRY_WINDOW_DAYS) == (2, 180)
