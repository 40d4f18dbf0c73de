"""What the change request pages show, decided here rather than in the templates: the steps
of a draft with their links, and a request's changes as "label: before → after" rows."""

from dataclasses import dataclass

from flask import url_for

from app.changes import services, validation
from app.changes.models import STEP_LABELS, ChangeRequest, ChangeStatus, Step

STEP_ENDPOINTS = {Step.SCOPE: "changes.edit_scope", Step.VALUES: "changes.edit_values",
                  Step.DOCUMENTS: "changes.edit_documents", Step.REVIEW: "changes.review"}
EXEMPTION_LABELS = {services.EXEMPT: "Tax-exempt", services.NOT_EXEMPT: "Not tax-exempt"}
STATUS_TONES = {
    ChangeStatus.DRAFT: "muted", ChangeStatus.SUBMITTED: "info", ChangeStatus.IN_REVIEW: "warning",
    ChangeStatus.APPROVED: "success", ChangeStatus.REJECTED: "danger",
    ChangeStatus.CANCELLED: "muted",
}
TIMELINE_LABELS = {"draft": "Draft started", "submitted": "Submitted",
                   "in_review": "In review: the ERP acknowledged the request",
                   "approved": "Approved", "rejected": "Rejected", "cancelled": "Cancelled",
                   "applied": "Applied to your account"}


@dataclass(frozen=True)
class StepLink:
    number: int
    label: str
    url: str | None  # a step already reached, other than the one shown
    current: bool
    done: bool


def step_links(change: ChangeRequest | None, shown: Step) -> list[StepLink]:
    """The four steps; a step the draft has reached links to itself."""
    reached = services.STEPS.index(change.step) if change is not None else 0
    links = []
    for number, step in enumerate(services.STEPS):
        index = services.STEPS.index(step)
        url = (url_for(STEP_ENDPOINTS[step], request_id=change.id)
               if change is not None and index <= reached and step != shown else None)
        links.append(StepLink(number + 1, STEP_LABELS[step], url, step == shown,
                              index < services.STEPS.index(shown) or index < reached))
    return links


def field_labels(country: str) -> dict[str, str]:
    return {
        "legal_name": "Legal name", "trading_name": "Trading name",
        "line1": "Street address", "line2": "Apartment, suite, floor", "city": "City",
        "region": validation.region_label(country),
        "postal_code": validation.postal_code_label(country),
        "tax_id": validation.tax_id_label(country), "tax_exempt": "Tax-exempt status",
    }


@dataclass(frozen=True)
class SummaryRow:
    field: str
    label: str
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _shown(field: str, value: str, country: str) -> str:
    if field == "tax_exempt":
        return EXEMPTION_LABELS.get(value, value or "—")
    if field == "region":
        names = dict(validation.region_choices(country))
        return f"{names[value]} ({value})" if value in names else value or "—"
    return value or "—"


def change_summary(change: ChangeRequest) -> list[SummaryRow]:
    """The request's fields: the account's value (its snapshot once submitted) and the new."""
    country = change.account.country
    labels = field_labels(country)
    before = change.previous if change.status != ChangeStatus.DRAFT and change.previous \
        else services.current_values(change.account, change.type)
    return [SummaryRow(field, labels[field], _shown(field, before.get(field, ""), country),
                       _shown(field, change.proposed.get(field, ""), country))
            for field in services.request_fields(change)]
