"""Checking what a reseller types into a change request: addresses per country, tax IDs and
legal names. Provisional: US and Canadian rules only, until the full per-country checks land."""

import re
from collections.abc import Mapping
from dataclasses import dataclass

from stdnum.ca import bn
from stdnum.us import ein

ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code")
_REGIONS = {
    "US": [("AK", "Alaska"), ("AL", "Alabama"), ("CA", "California"), ("NY", "New York"),
           ("OR", "Oregon"), ("TX", "Texas"), ("WA", "Washington")],
    "CA": [("AB", "Alberta"), ("BC", "British Columbia"), ("ON", "Ontario"), ("QC", "Quebec")],
}
_POSTAL = {"US": re.compile(r"^\d{5}(-\d{4})?$"),
           "CA": re.compile(r"^[A-Z]\d[A-Z] ?\d[A-Z]\d$")}


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str

    def lines(self) -> list[str]:
        city_line = " ".join(p for p in (self.city, self.region, self.postal_code) if p)
        return [line for line in (self.line1, self.line2, city_line, self.country) if line]


def region_choices(country: str) -> list[tuple[str, str]]:
    return list(_REGIONS.get(country, []))


def region_label(country: str) -> str:
    return {"US": "State", "CA": "Province or territory"}.get(country, "Region")


def postal_code_label(country: str) -> str:
    return {"US": "ZIP code", "CA": "Postal code"}.get(country, "Postal code")


def tax_id_label(country: str) -> str:
    return {"US": "Employer Identification Number (EIN)",
            "CA": "Business Number (BN)"}.get(country, "Tax ID")


def validate_field(field: str, value: str, *, country: str, region: str = "") -> str | None:
    value = (value or "").strip()
    if field in ("line1", "city") and not value:
        return {"line1": "Enter the street address.", "city": "Enter the city."}[field]
    if field == "region" and value not in {code for code, _ in region_choices(country)}:
        return f"Choose a {region_label(country).lower()}."
    if field == "postal_code":
        pattern = _POSTAL.get(country)
        if not value:
            return f"Enter the {postal_code_label(country)}."
        if pattern and not pattern.match(value.upper()):
            return f"Enter a valid {postal_code_label(country)}."
    if len(value) > 200:
        return "Use at most 200 characters."
    return None


def validate_address(data: Mapping[str, str], *, country: str
                     ) -> tuple[Address | None, dict[str, str]]:
    errors = {}
    for field in ADDRESS_FIELDS:
        message = validate_field(field, data.get(field, ""), country=country,
                                 region=data.get("region", ""))
        if message:
            errors[field] = message
    if errors:
        return None, errors
    values = {field: (data.get(field) or "").strip() for field in ADDRESS_FIELDS}
    values["postal_code"] = values["postal_code"].upper()
    return Address(**values, country=country), {}


def validate_tax_id(value: str, *, country: str) -> tuple[str | None, str | None]:
    module = {"US": ein, "CA": bn}.get(country)
    value = (value or "").strip()
    if not value:
        return None, f"Enter the {tax_id_label(country)}."
    if module is None:
        return value, None
    if country == "CA":
        compact = value.replace(" ", "").upper()
        if re.fullmatch(r"\d{9}RT\d{4}", compact) and bn.is_valid(compact[:9]):
            return compact, None
    if module.is_valid(value):
        return module.format(value) if country == "US" else module.compact(value), None
    return None, f"Enter a valid {tax_id_label(country)}."


def validate_legal_name(value: str, *, current: str) -> tuple[str | None, str | None]:
    value = " ".join((value or "").split())
    if not value:
        return None, "Enter the new legal name."
    if len(value) > 200:
        return None, "Use at most 200 characters."
    if value == current:
        return None, "This is already your legal name."
    return value, None
