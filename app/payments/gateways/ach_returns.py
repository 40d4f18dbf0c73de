"""ACH return codes (NACHA "R-codes"): what each means for a reseller in plain words, and
whether the bank account may be used again. Pages, e-mails and Help Center articles read this
table (the `ach-returns` article is checked against it); nothing else should spell out an
R-code. The codes are those a debit of a company's account (CCD) comes back with; a code that
is not here gets `describe_return`'s cautious general entry."""

from dataclasses import dataclass

# An R01 (insufficient funds) payment may be presented again at most this many times within
# this many days of the first return (NACHA's re-presentment rule).
R01_MAX_RETRIES = 2
R01_RETRY_WINDOW_DAYS = 180


@dataclass(frozen=True)
class ReturnCode:
    code: str
    title: str  # a few words, for a status badge or a table
    explanation: str  # plain words for the reseller: what happened and what to do
    disables_method: bool  # the bank account may not be charged again
    retryable: bool  # the same payment may be presented again (R01 only)


RETURN_CODES: dict[str, ReturnCode] = {
    entry.code: entry
    for entry in (
        ReturnCode(
            code="R01",
            title="Insufficient funds",
            explanation=(
                "Your bank returned the payment because the account did not have enough money "
                "in it when we collected. Your bank account stays on file: make sure the funds "
                "are there and pay again, or pay with another method."
            ),
            disables_method=False,
            retryable=True,
        ),
        ReturnCode(
            code="R02",
            title="Account closed",
            explanation=(
                "Your bank returned the payment because the account is closed. We turned this "
                "bank account off; add an open account or pay with another method."
            ),
            disables_method=True,
            retryable=False,
        ),
        ReturnCode(
            code="R03",
            title="No account found",
            explanation=(
                "Your bank could not find an account with this number and name. We turned this "
                "bank account off; check the routing and account numbers with your bank and "
                "add the account again, or pay with another method."
            ),
            disables_method=True,
            retryable=False,
        ),
        ReturnCode(
            code="R04",
            title="Invalid account number",
            explanation=(
                "Your bank says the account number is not valid. We turned this bank account "
                "off; check the number with your bank and add the account again, or pay with "
                "another method."
            ),
            disables_method=True,
            retryable=False,
        ),
        ReturnCode(
            code="R08",
            title="Payment stopped",
            explanation=(
                "Your bank returned the payment because your company asked it to stop this "
                "payment. Your bank account stays on file: if the stop was a mistake, pay "
                "again, or pay with another method."
            ),
            disables_method=False,
            retryable=False,
        ),
        ReturnCode(
            code="R09",
            title="Funds not yet available",
            explanation=(
                "Your bank returned the payment because the money in the account was not "
                "available yet when we collected (deposits had not cleared). Your bank account "
                "stays on file: pay again once the funds are available, or pay with another "
                "method."
            ),
            disables_method=False,
            retryable=False,
        ),
        ReturnCode(
            code="R16",
            title="Account frozen",
            explanation=(
                "Your bank returned the payment because the account is frozen. We turned this "
                "bank account off; ask your bank about the account and add it again once it "
                "can be debited, or pay with another method."
            ),
            disables_method=True,
            retryable=False,
        ),
        ReturnCode(
            code="R20",
            title="Account does not allow debits",
            explanation=(
                "Your bank returned the payment because this account cannot be debited (some "
                "savings accounts cannot). We turned this bank account off; add a checking "
                "account or pay with another method."
            ),
            disables_method=True,
            retryable=False,
        ),
        ReturnCode(
            code="R29",
            title="Not authorised by your company",
            explanation=(
                "Your bank returned the payment because your company told it not to accept "
                "debits from us. We turned this bank account off; ask your bank to allow our "
                "ACH debits (give them our company ID), then add the account again, or pay "
                "with another method."
            ),
            disables_method=True,
            retryable=False,
        ),
    )
}


def describe_return(code: str) -> ReturnCode:
    """The entry for an R-code. A code missing from the table gets a cautious general entry:
    the account is turned off, since charging it again would most likely be returned again."""
    entry = RETURN_CODES.get(code)
    if entry is not None:
        return entry
    return ReturnCode(
        code=code,
        title="Returned by your bank",
        explanation=(
            f"Your bank returned the payment (return code {code}). We turned this bank account "
            "off; ask your bank why, then add the account again or pay with another method."
        ),
        disables_method=True,
        retryable=False,
    )
