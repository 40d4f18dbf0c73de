"""A generated Help Center: realistic-looking billing, payments and account articles, written as
Markdown files with the same front matter as `content/articles/`. Seeded, so every run (and
every machine) searches the same corpus."""

import json
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

CATEGORIES = [
    "What's new",
    "Invoices & billing",
    "Payments",
    "Account information",
    "Control panel",
]

# Subjects of articles, each with the category it belongs to and the tags it carries.
SUBJECTS = [
    ("invoice", "Invoices & billing", ["invoice", "billing"]),
    ("invoice PDF", "Invoices & billing", ["invoice", "pdf", "download"]),
    ("invoice CSV export", "Invoices & billing", ["invoice", "csv", "export"]),
    ("historical invoice", "Invoices & billing", ["invoice", "history", "legacy"]),
    ("credit memo", "Invoices & billing", ["credit", "memo", "invoice"]),
    ("usage charge", "Invoices & billing", ["usage", "charges", "billing"]),
    ("proration", "Invoices & billing", ["proration", "billing", "subscription"]),
    ("statement of account", "Invoices & billing", ["statement", "aging", "balance"]),
    ("purchase order number", "Invoices & billing", ["purchase order", "po", "invoice"]),
    ("billing cycle", "Invoices & billing", ["billing", "cycle", "period"]),
    ("late fee", "Invoices & billing", ["late fee", "overdue", "payment terms"]),
    ("payment", "Payments", ["payment", "pay"]),
    ("credit card", "Payments", ["card", "payment method"]),
    ("ACH payment", "Payments", ["ach", "bank", "payment method"]),
    ("bank account", "Payments", ["bank", "ach", "micro-deposits"]),
    ("micro-deposit verification", "Payments", ["micro-deposits", "bank", "verify"]),
    ("wire transfer", "Payments", ["wire", "bank", "remittance"]),
    ("refund", "Payments", ["refund", "credit", "payment"]),
    ("auto-pay schedule", "Payments", ["auto-pay", "schedule", "payment"]),
    ("remittance advice", "Payments", ["remittance", "payment", "bank"]),
    ("declined card", "Payments", ["card", "declined", "payment"]),
    ("account credit", "Payments", ["credit", "balance", "auto-apply"]),
    ("legal name", "Account information", ["account", "legal name", "company"]),
    ("mailing address", "Account information", ["address", "account", "billing contact"]),
    ("billing contact", "Account information", ["contact", "billing", "email"]),
    ("tax information", "Account information", ["tax", "vat", "account"]),
    ("tax exemption certificate", "Account information", ["tax", "exempt", "certificate"]),
    ("currency", "Account information", ["currency", "usd", "cad"]),
    ("user role", "Account information", ["users", "roles", "permissions"]),
    ("reseller agreement", "Account information", ["agreement", "reseller", "terms"]),
    ("subscription", "Control panel", ["subscription", "seats", "license"]),
    ("end customer", "Control panel", ["end customer", "customer", "tenant"]),
    ("seat count", "Control panel", ["seats", "license", "subscription"]),
    ("price list", "Control panel", ["price", "catalog", "discount"]),
    ("marketplace order", "Control panel", ["marketplace", "order", "subscription"]),
    ("renewal date", "Control panel", ["renewal", "subscription", "term"]),
    ("dashboard", "Control panel", ["dashboard", "control panel", "overview"]),
    ("release notes", "What's new", ["release", "new", "changes"]),
    ("billing platform change", "What's new", ["erp", "cutover", "changes"]),
    ("new payment options", "What's new", ["payment", "new", "ach"]),
]
VERBS = [
    "add", "update", "change", "remove", "verify", "download", "export", "view", "find",
    "cancel", "dispute", "apply", "request", "schedule", "reconcile", "correct", "submit",
]
TITLE_TEMPLATES = [
    "How do I {verb} a {subject}?",
    "How do I {verb} my {subject}?",
    "Can I {verb} a {subject} {qualifier}?",
    "Understanding your {subject} {qualifier}",
    "{Subject} overview {qualifier}",
    "What happens when I {verb} a {subject}?",
    "Troubleshooting {subject} problems {qualifier}",
    "{Subject}: frequently asked questions {qualifier}",
    "Where can I {verb} my {subject}?",
    "Why can't I {verb} my {subject}?",
]
QUALIFIERS = [
    "for end customers", "in the control panel", "for Canadian accounts", "for US accounts",
    "after the billing platform change", "for annual subscriptions", "for monthly billing",
    "in a different currency", "as a billing user", "as an account admin", "before the due date",
    "for multiple subscriptions", "after cancellation", "during a billing cycle",
]
HEADINGS = [
    "Before you start", "Steps", "What to expect", "Troubleshooting", "Who can do this",
    "Fees and timing", "Frequently asked questions", "Examples", "Related settings",
    "How it appears on your invoice", "If something goes wrong", "Deadlines",
    "{Verb} the {subject}", "About the {subject}", "Checking the {subject}",
]
NOUNS = [
    "invoice", "payment", "credit card", "bank account", "statement", "subscription",
    "end customer", "credit memo", "billing contact", "tax certificate", "remittance advice",
    "purchase order", "usage report", "price list", "renewal", "refund", "balance",
    "due date", "payment method", "billing period", "legal name", "mailing address",
]
PAGES = [
    "Billing", "Invoices", "Payments", "Account settings", "Users", "Subscriptions",
    "Customers", "Statements", "Tax settings", "Payment methods",
]
ROLES = ["Account admins", "Billing users", "Viewers", "Partner managers"]
STATES = ["pending", "overdue", "paid", "open", "on hold", "verified", "declined", "disputed"]
SENTENCES = [
    "{Role} can {verb} the {noun} from the **{page}** page of the control panel.",
    "Allow up to {n} business days for the {noun} to appear on your next invoice.",
    "If the {noun} is {state}, {verb} the {noun2} before the due date to avoid a late fee.",
    "The {noun} shows the amount in your account currency, with tax on a separate line.",
    "Each {noun} is grouped by end customer, then by subscription, then by charge type.",
    "You can {verb} a {noun} at any time; changes apply from the next billing period.",
    "We send an email to the billing contact when a {noun} is {state}.",
    "To {verb} the {noun}, open **{page}**, select the {noun2}, and choose **{Verb}**.",
    "A {noun} that is {state} for more than {n} days is shown on your statement of account.",
    "Credit on your account is applied to the oldest open invoice first.",
    "Payments by ACH take {n} business days to clear; card payments are applied at once.",
    "Two micro-deposits arrive in your bank account; enter both amounts to verify it.",
    "Invoices issued before April 2018 use the historical layout and are in the archive.",
    "Tax-exempt accounts must upload a valid exemption certificate for each region.",
    "Only {role} can {verb} the {noun}; ask an admin if the button is missing.",
    "The {noun} and the {noun2} must use the same currency.",
    "Download the {noun} as a PDF for your records, or export the lines as CSV.",
    "Refunds are returned to the original payment method within {n} business days.",
    "Usage charges are billed in arrears and prorated by day for partial months.",
    "If a card is declined, check the expiry date and the billing address, then try again.",
    "Quote the invoice number as the remittance reference when you pay by wire transfer.",
    "Changes to your legal name or mailing address need a signed reseller agreement update.",
]
STEP_TEMPLATES = [
    "Sign in to the control panel and open **{page}**.",
    "Select the {noun} you want to {verb}.",
    "Choose **{Verb}** and check the {noun2} details.",
    "Confirm with **Save**; a confirmation email goes to the billing contact.",
    "Review the {noun} on the **{page}** page.",
]


AN_RE = re.compile(r"\b([Aa]) ([aeiouAEIOU])")


@dataclass(frozen=True)
class GeneratedArticle:
    slug: str
    title: str
    category: str
    subject: str


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _yaml_string(text: str) -> str:
    """A YAML scalar for `text`: plain when that is safe, else double-quoted (JSON is YAML)."""
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 ,.?'&()/-]*", text) and ": " not in text:
        return text
    return json.dumps(text)


def _fill(template: str, rng: random.Random, subject: str, verb: str) -> str:
    noun, noun2 = rng.sample(NOUNS, 2)
    values = {
        "subject": subject,
        "Subject": _capital(subject),
        "verb": verb,
        "Verb": _capital(verb),
        "noun": noun,
        "noun2": noun2,
        "page": rng.choice(PAGES),
        "role": rng.choice(ROLES).lower(),
        "Role": rng.choice(ROLES),
        "state": rng.choice(STATES),
        "n": rng.randint(2, 10),
        "qualifier": rng.choice(QUALIFIERS),
    }
    return AN_RE.sub(r"\1n \2", template.format(**values))


def _paragraph(rng: random.Random, subject: str, verb: str) -> str:
    sentences = [
        _fill(template, rng, subject, rng.choice((verb, rng.choice(VERBS))))
        for template in rng.sample(SENTENCES, rng.randint(2, 5))
    ]
    return " ".join(sentences)


def _section_body(rng: random.Random, subject: str, verb: str) -> str:
    parts = [_paragraph(rng, subject, verb)]
    shape = rng.random()
    if shape < 0.35:
        steps = rng.sample(STEP_TEMPLATES, rng.randint(3, 5))
        parts.append(
            "\n".join(f"{i}. {_fill(step, rng, subject, verb)}" for i, step in enumerate(steps, 1))
        )
    elif shape < 0.5:
        rows = [
            f"| {_capital(rng.choice(NOUNS))} | {rng.choice(STATES)} | {rng.randint(2, 30)} days |"
            for _ in range(rng.randint(2, 4))
        ]
        parts.append("| Item | Status | Timing |\n|---|---|---|\n" + "\n".join(rows))
    elif shape < 0.6:
        parts.append(f"!!! note\n    {_fill(rng.choice(SENTENCES), rng, subject, verb)}")
    if rng.random() < 0.6:
        parts.append(_paragraph(rng, subject, verb))
    return "\n\n".join(parts)


def _article(rng: random.Random, used: set[str], day0: date) -> tuple[GeneratedArticle, str]:
    subject, category, tags = rng.choice(SUBJECTS)
    verb = rng.choice(VERBS)
    while True:
        title = _fill(rng.choice(TITLE_TEMPLATES), rng, subject, verb)
        slug = slugify(title)
        if slug not in used:
            break
        verb = rng.choice(VERBS)
    used.add(slug)
    summary = _fill(rng.choice(SENTENCES), rng, subject, verb).replace("**", "")
    headings = []
    for template in rng.sample(HEADINGS, rng.randint(3, 6)):
        heading = _fill(template, rng, subject, verb)
        if heading not in headings:
            headings.append(heading)
    updated = day0 + timedelta(days=rng.randint(0, 3000))
    front_matter = "\n".join(
        [
            "---",
            f"title: {_yaml_string(title)}",
            f"summary: {_yaml_string(summary)}",
            f"category: {_yaml_string(category)}",
            "tags: [" + ", ".join(_yaml_string(tag) for tag in tags) + "]",
            "related: []",
            "pages: []",
            f"updated: {updated.isoformat()}",
            "---",
        ]
    )
    body = [_paragraph(rng, subject, verb)]
    for heading in headings:
        body.append(f"## {heading}\n\n{_section_body(rng, subject, verb)}")
    text = front_matter + "\n\n" + "\n\n".join(body) + "\n"
    return GeneratedArticle(slug, title, category, subject), text


def generate_corpus(folder: Path, count: int, seed: int = 20261125) -> list[GeneratedArticle]:
    """Write `count` articles into `folder` (created if needed). Same seed, same files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    used: set[str] = set()
    articles = []
    for _ in range(count):
        article, text = _article(rng, used, date(2017, 1, 1))
        (folder / f"{article.slug}.md").write_text(text, encoding="utf-8")
        articles.append(article)
    return articles
