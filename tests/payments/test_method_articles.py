"""The payment method articles say what the code does: every number in them comes from a
constant of the code (each one checked here), and the words they quote from the screens are
the screens' words."""

import re
from pathlib import Path

import pytest

from app.accounts.services import REAUTHENTICATION_WINDOW
from app.formatting import money
from app.payments.gateways.hosted_pages import TEST_CARD_RESULTS
from app.payments.gateways.sandbox import (
    ACH_SETTLEMENT_BUSINESS_DAYS,
    CARD_SETUP_LIFETIME,
    MICRO_DEPOSIT_AMOUNTS,
    TEST_BANK_ACCOUNTS,
    TEST_CARDS,
    TEST_ROUTING_NUMBER,
)
from app.payments.gateways.validation import (
    MAX_ACCOUNT_NUMBER_DIGITS,
    MIN_ACCOUNT_NUMBER_DIGITS,
    ROUTING_NUMBER_DIGITS,
)
from app.payments.methods import (
    ACH_CURRENCIES,
    MICRO_DEPOSIT_LIMIT,
    VERIFICATION_DAYS,
    VERIFICATION_TRIES,
)
from app.payments.models import PaymentMethod

ROOT = Path(__file__).parents[2]
ARTICLES = ROOT / "content" / "articles"
LAST_DIGITS = PaymentMethod.__table__.c.last4.type.length  # "last 4 digits"
WINDOW_MINUTES = int(REAUTHENTICATION_WINDOW.total_seconds() // 60)
SETUP_HOURS = int(CARD_SETUP_LIFETIME.total_seconds() // 3600)
SANDBOX_LAST4 = next(iter(TEST_BANK_ACCOUNTS))[-LAST_DIGITS:]  # the example "ACH •••• 6789"
TEST_CARD_GROUPS = {number[i:i + 4] for number in TEST_CARDS for i in range(0, 16, 4)}
DEPOSITS = {str(amount) for amount in MICRO_DEPOSIT_AMOUNTS}
LIMIT = money(MICRO_DEPOSIT_LIMIT, "USD")  # "$1.00"


def spaced(number: str) -> str:
    return " ".join(number[i:i + 4] for i in range(0, len(number), 4))


def article(slug: str) -> str:
    """Title, summary and body of an article, with the numbers of its numbered lists
    left out."""
    text = (ARTICLES / f"{slug}.md").read_text()
    front, body = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.S).groups()
    title = re.search(r"^title: (.*)$", front, re.M).group(1)
    summary = re.search(r"^summary: (.*)$", front, re.M).group(1)
    return re.sub(r"(?m)^(\s*)\d+\. ", r"\1", f"{title}\n{summary}\n{body}")


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def numbers(text: str) -> set[str]:
    """Every number in the text (R-codes and link targets left out)."""
    text = re.sub(r"\bR\d\d\b", "", text)
    text = re.sub(r"\]\((?:help|app):[^)]*\)", "]", text)
    return set(re.findall(r"\d+(?:\.\d+)?", text))


# slug → (the numbers it may contain, each from a constant; phrases that must be in it)
EXPECTED = {
    "card-payments": (
        {str(LAST_DIGITS), str(SETUP_HOURS), *TEST_CARD_GROUPS},
        [f"the **last {LAST_DIGITS} digits**", f"open for **{SETUP_HOURS} hour**",
         *(f"| `{spaced(number)}` | {TEST_CARD_RESULTS[behaviour]} |"
           for number, behaviour in TEST_CARDS.items())],
    ),
    "how-do-i-add-ach-as-a-payment-method": (
        {str(ROUTING_NUMBER_DIGITS), str(MIN_ACCOUNT_NUMBER_DIGITS),
         str(MAX_ACCOUNT_NUMBER_DIGITS), str(VERIFICATION_TRIES), str(VERIFICATION_DAYS),
         str(WINDOW_MINUTES), str(ACH_SETTLEMENT_BUSINESS_DAYS), str(LAST_DIGITS),
         LIMIT.lstrip("$"), TEST_ROUTING_NUMBER, SANDBOX_LAST4, *TEST_BANK_ACCOUNTS, *DEPOSITS},
        [f"**ACH is for accounts billed in {' or '.join(ACH_CURRENCIES)} only**",
         f"for **{WINDOW_MINUTES} minutes**",
         f"**{ROUTING_NUMBER_DIGITS}-digit** ABA routing number",
         f"**{MIN_ACCOUNT_NUMBER_DIGITS} to {MAX_ACCOUNT_NUMBER_DIGITS} digits**",
         f"each less than **{LIMIT}**",
         f"**{VERIFICATION_TRIES} wrong tries lock**",
         f"**not verified within {VERIFICATION_DAYS} days expires**",
         f"after {ACH_SETTLEMENT_BUSINESS_DAYS} business days",
         f"Use routing number `{TEST_ROUTING_NUMBER}`",
         f"always `{MICRO_DEPOSIT_AMOUNTS[0]}` and `{MICRO_DEPOSIT_AMOUNTS[1]}`",
         *(f"| `{number}` | " + (f"Returned with {code} " if code else "Settles")
           for number, code in TEST_BANK_ACCOUNTS.items())],
    ),
    "verify-micro-deposits": (
        {str(VERIFICATION_TRIES), str(VERIFICATION_DAYS), str(LAST_DIGITS), LIMIT.lstrip("$"),
         SANDBOX_LAST4, *DEPOSITS},
        [f"You have {VERIFICATION_TRIES} tries and {VERIFICATION_DAYS} days",
         f"each less than **{LIMIT}**", f"You have **{VERIFICATION_DAYS} days**",
         f"| **{VERIFICATION_TRIES} wrong tries** |",
         f"| **{VERIFICATION_DAYS} days without verification** |",
         f"After {VERIFICATION_TRIES} wrong tries",
         f"always sends `{MICRO_DEPOSIT_AMOUNTS[0]}` and `{MICRO_DEPOSIT_AMOUNTS[1]}`"],
    ),
}


@pytest.mark.parametrize("slug", EXPECTED)
def test_every_number_comes_from_the_code(slug):
    text = article(slug)
    allowed, phrases = EXPECTED[slug]
    assert numbers(text) <= allowed, sorted(numbers(text) - allowed)
    for phrase in phrases:
        assert phrase in flat(text), phrase


def test_the_r_codes_are_the_sandboxs_own():
    text = article("how-do-i-add-ach-as-a-payment-method")
    codes = {code for code in TEST_BANK_ACCOUNTS.values() if code}
    assert set(re.findall(r"\bR\d\d\b", text)) == codes


# The screens' own words: each is quoted in its article and is on a screen (a template, or a
# form's label) of the code.
SCREENS = [*(ROOT / "templates" / "payments").glob("*.html"),
           *(ROOT / "templates" / "sandbox").glob("*.html"),
           ROOT / "templates" / "auth" / "confirm_password.html",
           ROOT / "app" / "payments" / "forms.py", ROOT / "app" / "payments" / "method_routes.py",
           ROOT / "app" / "payments" / "methods.py", ROOT / "app" / "accounts" / "forms.py",
           ROOT / "app" / "payments" / "gateways" / "hosted_pages.py",
           ROOT / "app" / "payments" / "gateways" / "sandbox.py",
           ROOT / "app" / "payments" / "gateways" / "validation.py"]
SCREEN_WORDS = {
    "card-payments": ["Add a card", "Continue to the secure card page", "Enter card details",
                      "Card number", "Expiry date", "Security code (CVC)", "Add card",
                      "Cancel and go back", "No card was added.", "Make default", "Remove",
                      "Remove payment method", "Keep it", "Verified", "Expired", "Default",
                      "Test mode", "This card form has expired.", "Too many card attempts."],
    "how-do-i-add-ach-as-a-payment-method": [
        "Add a bank account (ACH)", "Confirm your password", "Confirm password",
        "Account holder name", "Routing number", "Account number", "Confirm account number",
        "Account type", "Checking", "Savings", "Debit authorisation (CCD)",
        "I accept this debit authorisation for my company", "Add bank account",
        "Verify bank account", "We sent two small deposits to", "Verify",
        "the business bank account entered above", "Waiting for verification", "Verified",
        "Locked", "Expired", "Disabled", "Make default", "Remove", "Add again",
        "This routing number is not valid.", "The account numbers do not match."],
    "verify-micro-deposits": [
        "Waiting for verification", "Verify", "Verify bank account", "First deposit",
        "Second deposit", "is verified. You can now pay with it.", "Verified", "Expired",
        "These amounts do not match the two deposits we sent.", "Add again"],
}


@pytest.mark.parametrize("slug", SCREEN_WORDS)
def test_the_articles_quote_the_screens(slug):
    # Python's implicitly joined string literals read as one text.
    screens = re.sub(r'"\s*\n\s*f?"', "", " ".join(path.read_text() for path in SCREENS))
    text = flat(article(slug))
    for words in SCREEN_WORDS[slug]:
        assert words in text, f"{slug} does not say {words!r}"
        assert words in screens, f"no screen says {words!r}"
