"""Checks of the values a reseller enters in a change request: mailing addresses (per country,
through pycountry), tax IDs (through python-stdnum) and legal names.

Every check returns a normalised value or one short sentence in plain words, to be shown next
to the field; none raises on bad input.

Decisions worth knowing:

- US regions are the 50 states and the District of Columbia. Puerto Rico, Guam, the U.S.
  Virgin Islands, American Samoa, the Northern Mariana Islands and the Minor Outlying Islands
  have their own ISO 3166 country codes, so an address there is entered with that country
  (their postal codes are US ZIP codes, and are checked as such). Military "states" (AA, AE, AP)
  are refused: they address service members' mail, not a business's legal address.
- Canada: the 10 provinces and 3 territories; a postal code's first letter must belong to the
  chosen province or territory.
- Other countries: the region is optional, and when given must be one of the country's ISO
  3166-2 subdivisions (code or name); a country without subdivisions takes no region. The
  postal code is optional and, when given, is 2 to 10 letters, digits, spaces or hyphens.
"""

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import pycountry
from stdnum import exceptions as stdnum_errors
from stdnum.ca import bn
from stdnum.eu import vat
from stdnum.us import ein

ADDRESS_FIELDS = ("line1", "line2", "city", "region", "postal_code")
MAX_LENGTHS = {"line1": 200, "line2": 200, "city": 100}
MIN_LEGAL_NAME, MAX_LEGAL_NAME = 2, 200
MIN_OTHER_TAX_ID, MAX_OTHER_TAX_ID = 3, 40

# Countries whose postal codes are US ZIP codes (the US and its territories).
ZIP_COUNTRIES = frozenset({"US", "PR", "GU", "VI", "AS", "MP"})
_US_REGION_TYPES = frozenset({"State", "District"})
_US_MILITARY = frozenset({"AA", "AE", "AP"})

# The first letter of a Canadian postal code names the province or territory it is in.
CA_POSTAL_PREFIXES = {
    "A": ("NL",), "B": ("NS",), "C": ("PE",), "E": ("NB",),
    "G": ("QC",), "H": ("QC",), "J": ("QC",),
    "K": ("ON",), "L": ("ON",), "M": ("ON",), "N": ("ON",), "P": ("ON",),
    "R": ("MB",), "S": ("SK",), "T": ("AB",), "V": ("BC",),
    "X": ("NT", "NU"), "Y": ("YT",),
}  # fmt: skip
_CA_NEVER = "DFIOQU"
_CA_POSTAL = re.compile(r"[A-Z][0-9][A-Z][0-9][A-Z][0-9]")
_ZIP = re.compile(r"([0-9]{5})(?:[- ]?([0-9]{4}))?")
_OTHER_POSTAL = re.compile(r"[A-Z0-9][A-Z0-9 -]{0,8}[A-Z0-9]")
_OTHER_TAX_ID = re.compile(r"[A-Za-z0-9 ./-]+")

# EU member states and the prefix of their VAT numbers (Greece uses EL, not GR).
EU_VAT_PREFIXES = {
    code.upper(): ("EL" if code == "gr" else code.upper())
    for code in vat.MEMBER_STATES
    if code != "xi"  # Northern Ireland: a United Kingdom prefix, not a member state
}
TAX_ID_KINDS = {
    "US": "EIN",
    "CA": "Business Number (BN)",
    **{country: "VAT number" for country in EU_VAT_PREFIXES},
}

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
CONTROL_MESSAGE = "Remove the line breaks and other control characters."


@dataclass(frozen=True)
class Address:
    line1: str
    line2: str
    city: str
    region: str
    postal_code: str
    country: str

    def lines(self) -> list[str]:
        """The address as printed on an invoice (the layout of `Account.address_lines`)."""
        city_line = " ".join(part for part in (self.city, self.region, self.postal_code) if part)
        return [line for line in (self.line1, self.line2, city_line, self.country) if line]


# -- shared helpers ------------------------------------------------------------------------


def _has_control_characters(text: str) -> bool:
    return any(
        unicodedata.category(char) in {"Cc", "Cs", "Zl", "Zp"} or char in _BIDI_CONTROLS
        for char in text
    )


def _clean(value: str | None) -> tuple[str, str | None]:
    """The value trimmed, in Unicode NFC, with runs of spaces made one; or a message when it
    holds control characters (a line break or tab inside, a bidirectional override)."""
    text = unicodedata.normalize("NFC", value or "").strip()
    if _has_control_characters(text):
        return text, CONTROL_MESSAGE
    return " ".join(text.split()), None


def _country(code: str) -> str | None:
    """The ISO 3166-1 alpha-2 code in upper case, or None when there is no such country."""
    code = (code or "").strip().upper()
    if len(code) == 2 and code.isascii() and pycountry.countries.get(alpha_2=code):
        return code
    return None


def _country_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "common_name", None) or country.name


def _subdivisions(country: str) -> dict[str, str]:
    """{code without the country prefix: name} of the regions an address in `country` may
    name."""
    found = pycountry.subdivisions.get(country_code=country) or []
    if country == "US":
        found = [sub for sub in found if sub.type in _US_REGION_TYPES]
    return {sub.code.split("-", 1)[1]: sub.name for sub in found}


def _looks_like_code(text: str) -> bool:
    return 1 <= len(text) <= 3 and text.isascii() and text.isalnum()


# -- addresses -----------------------------------------------------------------------------


def region_choices(country: str) -> list[tuple[str, str]]:
    """(code without the country prefix, name) of the country's regions, sorted by name: the
    50 states and DC for the US, the provinces and territories for Canada, the ISO 3166-2
    subdivisions elsewhere (an empty list for a country without any, or an unknown code)."""
    code = _country(country)
    if code is None:
        return []
    return sorted(_subdivisions(code).items(), key=lambda item: (item[1].casefold(), item[0]))


def region_label(country: str) -> str:
    return {"US": "State", "CA": "Province or territory"}.get(_country(country) or "", "Region")


def postal_code_label(country: str) -> str:
    return "ZIP code" if _country(country) in ZIP_COUNTRIES else "Postal code"


def _region_noun(country: str) -> str:
    return {"US": "a US state", "CA": "a Canadian province or territory"}.get(
        country, f"a region of {_country_name(country)}"
    )


def _check_region(value: str, country: str) -> tuple[str, str | None]:
    text, problem = _clean(value)
    if problem:
        return text, problem
    regions = _subdivisions(country)
    if not text:
        if country in {"US", "CA"}:
            return text, f"Choose {'a state' if country == 'US' else 'a province or territory'}."
        return text, None
    if not regions:
        return text, f"{_country_name(country)} has no regions: leave this empty."
    wanted = text.upper().removeprefix(f"{country}-")
    if wanted in regions:
        return wanted, None
    by_name = {name.casefold(): code for code, name in regions.items()}
    if text.casefold() in by_name:
        return by_name[text.casefold()], None
    if country == "US" and wanted in ZIP_COUNTRIES:
        name = _country_name(wanted)
        return text, f"{wanted} is not a US state: for {name}, choose {name} as the country."
    if country == "US" and wanted in _US_MILITARY:
        return text, "Military addresses (AA, AE, AP) cannot be an account's mailing address."
    if _looks_like_code(wanted):
        return text, f"{wanted} is not {_region_noun(country)}."
    return text, f"Choose {_region_noun(country)} from the list."


def _check_postal_code(value: str, country: str, region: str) -> tuple[str, str | None]:
    """`region` is a checked region code, or "" when unknown (then a Canadian postal code is
    checked for its shape only)."""
    text, problem = _clean(value)
    if problem:
        return text, problem
    text = text.upper()
    if country in ZIP_COUNTRIES:
        return _check_zip(text)
    if country == "CA":
        return _check_canadian_postal_code(text, region)
    if not text:
        return text, None
    if not _OTHER_POSTAL.fullmatch(text):
        return text, "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."
    return text, None


def _check_zip(text: str) -> tuple[str, str | None]:
    match = _ZIP.fullmatch(text)
    if not match:
        return text, "Enter a ZIP code like 98101 or 98101-1234."
    five, four = match.groups()
    return (f"{five}-{four}" if four else five), None


def _check_canadian_postal_code(text: str, region: str) -> tuple[str, str | None]:
    compact = text.replace(" ", "")
    if not _CA_POSTAL.fullmatch(compact):
        return text, "Enter a postal code like K1A 0B1."
    if any(letter in _CA_NEVER for letter in compact):
        return text, "Canadian postal codes never use the letters D, F, I, O, Q or U."
    if compact[0] not in CA_POSTAL_PREFIXES:
        return text, "A Canadian postal code never starts with W or Z."
    normalised = f"{compact[:3]} {compact[3:]}"
    provinces = CA_POSTAL_PREFIXES[compact[0]]
    if region and region not in provinces:
        names = _subdivisions("CA")
        where = " or ".join(names[code] for code in provinces)
        return text, f"{normalised} is a postal code in {where}, not in {names[region]}."
    return normalised, None


def _check_text(field: str, value: str) -> tuple[str, str | None]:
    text, problem = _clean(value)
    if problem:
        return text, problem
    if not text and field == "line1":
        return text, "Enter the street address."
    if not text and field == "city":
        return text, "Enter the city."
    if len(text) > MAX_LENGTHS[field]:
        return text, f"Use at most {MAX_LENGTHS[field]} characters."
    return text, None


def _check_field(field: str, value: str, country: str, region: str) -> tuple[str, str | None]:
    if field == "region":
        return _check_region(value, country)
    if field == "postal_code":
        return _check_postal_code(value, country, region)
    return _check_text(field, value)


def validate_address(
    data: Mapping[str, str], *, country: str
) -> tuple[Address | None, dict[str, str]]:
    """(the normalised address, {}) or (None, {field: message}) with a message for every field
    in error, not only the first. An unknown `country` is an error on "country"."""
    code = _country(country)
    if code is None:
        return None, {"country": "Choose a country from the list."}
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for field in ADDRESS_FIELDS:
        # The postal code is checked against the region only when the region itself is valid.
        region = values["region"] if "region" not in errors and "region" in values else ""
        values[field], problem = _check_field(field, data.get(field) or "", code, region)
        if problem:
            errors[field] = problem
    if errors:
        return None, errors
    return Address(country=code, **values), {}


def validate_field(field: str, value: str, *, country: str, region: str = "") -> str | None:
    """One field's message (None when it is fine), exactly as `validate_address` would give it;
    `region` is what the form holds for the region, used to check a Canadian postal code.

    Raises ValueError when `field` is not one of ADDRESS_FIELDS (the caller must pick it from
    that list, never pass a request's field name through unchecked)."""
    if field not in ADDRESS_FIELDS:
        raise ValueError(f"not an address field: {field!r}")
    code = _country(country)
    if code is None:
        return "Choose a country from the list."
    checked_region = ""
    if field == "postal_code" and region:
        candidate, problem = _check_region(region, code)
        checked_region = "" if problem else candidate
    return _check_field(field, value, code, checked_region)[1]


# -- tax IDs -------------------------------------------------------------------------------


def tax_id_label(country: str) -> str:
    return TAX_ID_KINDS.get(_country(country) or "", "Tax ID")


def validate_tax_id(value: str, *, country: str) -> tuple[str | None, str | None]:
    """(the tax ID as displayed, None) or (None, message): an EIN in the US, a Business Number
    in Canada, a VAT number in an EU member state, a plain identifier elsewhere."""
    code = _country(country) or ""
    text, problem = _clean(value)
    if problem:
        return None, problem
    if not text:
        return None, f"Enter the {tax_id_label(code)}."
    if code == "US":
        return _check_ein(text)
    if code == "CA":
        return _check_business_number(text)
    if code in EU_VAT_PREFIXES:
        return _check_vat_number(text, code)
    if not (MIN_OTHER_TAX_ID <= len(text) <= MAX_OTHER_TAX_ID and _OTHER_TAX_ID.fullmatch(text)):
        return None, (
            f"Enter the tax ID: {MIN_OTHER_TAX_ID} to {MAX_OTHER_TAX_ID} letters, digits, "
            "spaces or . - / characters."
        )
    return text, None


def _check_ein(text: str) -> tuple[str | None, str | None]:
    try:
        number = ein.validate(text)
    except stdnum_errors.InvalidComponent:
        prefix = ein.compact(text)[:2]
        return None, f"{prefix}-… is not a valid EIN prefix: the IRS has not assigned it."
    except stdnum_errors.ValidationError:
        return None, "Enter the EIN as 9 digits, like 12-3456789."
    return ein.format(number), None


def _check_business_number(text: str) -> tuple[str | None, str | None]:
    try:
        return bn.validate(text.upper()), None
    except stdnum_errors.InvalidChecksum:
        return None, "This Business Number's check digit is wrong: check it for a typing mistake."
    except stdnum_errors.InvalidComponent:
        return None, "The program account must use RC, RM, RP or RT, like 123456782RT0001."
    except stdnum_errors.ValidationError:
        return None, (
            "Enter the Business Number as 9 digits, like 123456782, or its 15-character "
            "program account, like 123456782RT0001."
        )


def _check_vat_number(text: str, country: str) -> tuple[str | None, str | None]:
    prefix = EU_VAT_PREFIXES[country]
    own_prefixes = {prefix, country}  # Greek numbers are also written with GR
    compact = re.sub(r"[\s.\-/]", "", text.upper())
    if compact[:2] in own_prefixes:
        candidate = prefix + compact[2:]
    else:
        candidate = prefix + compact
        other = compact[:2]
        if other.isalpha() and not vat.is_valid(candidate):
            issuer = {"EL": "GR", "XI": "GB"}.get(other, other)
            if other.isascii() and pycountry.countries.get(alpha_2=issuer):
                return None, (
                    f"A VAT number starting with {other} is from {_country_name(issuer)}: "
                    f"enter the one for {_country_name(country)}."
                )
    name = _country_name(country)
    try:
        number = vat.validate(candidate)
    except stdnum_errors.InvalidChecksum:
        return None, "This VAT number's check digits are wrong: check it for a typing mistake."
    except stdnum_errors.ValidationError:
        return None, f"This is not a valid VAT number for {name}: check its digits and letters."
    return number, None


# -- legal name ----------------------------------------------------------------------------


def validate_legal_name(value: str, *, current: str) -> tuple[str | None, str | None]:
    """(the new legal name, None) or (None, message): 2 to 200 characters, and not the current
    name again (ignoring case and spacing)."""
    text, problem = _clean(value)
    if problem:
        return None, problem
    if not text:
        return None, "Enter the new legal name."
    if len(text) < MIN_LEGAL_NAME:
        return None, f"Enter at least {MIN_LEGAL_NAME} characters."
    if len(text) > MAX_LEGAL_NAME:
        return None, f"Use at most {MAX_LEGAL_NAME} characters."
    current_text = " ".join(unicodedata.normalize("NFC", current or "").split())
    if text.casefold() == current_text.casefold():
        return None, "This is the current legal name: enter the new one."
    return text, None
