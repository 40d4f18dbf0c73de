"""Addresses, tax IDs and legal names as a reseller types them: real valid and invalid values,
every error at once, normalisation, and no input that raises."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.changes.validation import (
    ADDRESS_FIELDS,
    TAX_ID_KINDS,
    Address,
    postal_code_label,
    region_choices,
    region_label,
    tax_id_label,
    validate_address,
    validate_field,
    validate_legal_name,
    validate_tax_id,
)

# -- regions ---------------------------------------------------------------------------------

US_STATES_AND_DC = {
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ",
    "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT",
    "VA", "WA", "WV", "WI", "WY", "DC",
}  # fmt: skip
CA_PROVINCES_AND_TERRITORIES = {
    "AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "NT", "NU", "YT",
}  # fmt: skip


def test_us_regions_are_the_50_states_and_dc_sorted_by_name():
    choices = region_choices("US")
    assert {code for code, _ in choices} == US_STATES_AND_DC
    assert len(choices) == 51
    names = [name for _, name in choices]
    assert names == sorted(names, key=str.casefold)
    assert ("DC", "District of Columbia") in choices
    assert ("WA", "Washington") in choices


def test_canadian_regions_are_the_provinces_and_territories():
    choices = dict(region_choices("CA"))
    assert set(choices) == CA_PROVINCES_AND_TERRITORIES
    assert choices["NU"] == "Nunavut"
    assert choices["QC"] == "Quebec"


@pytest.mark.parametrize(
    ("country", "code", "name"), [("DE", "BY", "Bayern"), ("FR", "IDF", "Île-de-France")]
)
def test_other_countries_list_their_subdivisions_without_the_country_prefix(country, code, name):
    assert (code, name) in region_choices(country)


@pytest.mark.parametrize("country", ["ZZ", "", "USA", "u"])
def test_an_unknown_country_has_no_regions(country):
    assert region_choices(country) == []


@pytest.mark.parametrize(
    ("country", "region", "postal", "tax"),
    [
        ("US", "State", "ZIP code", "EIN"),
        ("us", "State", "ZIP code", "EIN"),
        ("CA", "Province or territory", "Postal code", "Business Number (BN)"),
        ("DE", "Region", "Postal code", "VAT number"),
        ("GR", "Region", "Postal code", "VAT number"),
        ("PR", "Region", "ZIP code", "Tax ID"),
        ("BR", "Region", "Postal code", "Tax ID"),
        ("GB", "Region", "Postal code", "Tax ID"),
    ],
)
def test_labels_name_what_each_country_calls_the_field(country, region, postal, tax):
    assert (region_label(country), postal_code_label(country), tax_id_label(country)) == (
        region,
        postal,
        tax,
    )


def test_every_eu_member_state_uses_a_vat_number():
    eu = {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }  # fmt: skip
    assert {country for country, kind in TAX_ID_KINDS.items() if kind == "VAT number"} == eu


# -- addresses -------------------------------------------------------------------------------

SEATTLE = {"line1": "1200 Harbor Avenue", "line2": "Suite 400", "city": "Seattle",
           "region": "WA", "postal_code": "98101"}  # fmt: skip
TORONTO = {"line1": "290 Bremner Blvd", "line2": "", "city": "Toronto", "region": "ON",
           "postal_code": "M5V 3L9"}  # fmt: skip


def test_a_valid_us_address_is_normalised():
    data = {"line1": "  1200   Harbor Avenue ", "line2": " Suite 400\n", "city": "Seattle ",
            "region": " wa", "postal_code": " 981011234 "}  # fmt: skip
    address, errors = validate_address(data, country="us")
    assert errors == {}
    assert address == Address("1200 Harbor Avenue", "Suite 400", "Seattle", "WA",
                              "98101-1234", "US")  # fmt: skip
    assert address.lines() == ["1200 Harbor Avenue", "Suite 400", "Seattle WA 98101-1234", "US"]


def test_lines_are_printed_like_the_accounts_address_lines():
    address, _ = validate_address({**TORONTO}, country="CA")
    assert address.lines() == ["290 Bremner Blvd", "Toronto ON M5V 3L9", "CA"]


def test_every_error_is_reported_at_once():
    data = {"line1": "", "line2": "x" * 201, "city": " ", "region": "ON", "postal_code": "9810"}
    address, errors = validate_address(data, country="US")
    assert address is None
    assert errors == {
        "line1": "Enter the street address.",
        "line2": "Use at most 200 characters.",
        "city": "Enter the city.",
        "region": "ON is not a US state.",
        "postal_code": "Enter a ZIP code like 98101 or 98101-1234.",
    }


def test_missing_fields_are_errors_not_exceptions():
    address, errors = validate_address({}, country="CA")
    assert address is None
    assert set(errors) == {"line1", "city", "region", "postal_code"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("line1", "x" * 201, "Use at most 200 characters."),
        ("line1", "1 Main St\n2 Other St", "Remove the line breaks and other control characters."),
        ("line2", "Suite\t4", "Remove the line breaks and other control characters."),
        ("city", "x" * 101, "Use at most 100 characters."),
        ("city", "Sea\x00ttle", "Remove the line breaks and other control characters."),
        ("city", "Seattle\u202e", "Remove the line breaks and other control characters."),
    ],
)
def test_text_fields_have_limits_and_no_control_characters(field, value, message):
    _, errors = validate_address({**SEATTLE, field: value}, country="US")
    assert errors == {field: message}


@pytest.mark.parametrize(("field", "length"), [("line1", 200), ("line2", 200), ("city", 100)])
def test_text_fields_at_their_limit_are_accepted(field, length):
    address, errors = validate_address({**SEATTLE, field: "x" * length}, country="US")
    assert errors == {}
    assert getattr(address, field) == "x" * length


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("98101", "98101"), ("98101-1234", "98101-1234"), ("981011234", "98101-1234"),
     ("98101 1234", "98101-1234"), (" 00501 ", "00501")],
)  # fmt: skip
def test_zip_codes_and_zip_plus_4(typed, stored):
    address, errors = validate_address({**SEATTLE, "postal_code": typed}, country="US")
    assert errors == {}
    assert address.postal_code == stored


@pytest.mark.parametrize(
    "typed",
    ["", "9810", "981012", "98101-12", "98101-", "98101--1234", "ABCDE", "98 101",
     "９８１０１", "98101-12345", "V6B 4Y8"],
)  # fmt: skip
def test_malformed_zip_codes_are_refused(typed):
    _, errors = validate_address({**SEATTLE, "postal_code": typed}, country="US")
    assert errors == {"postal_code": "Enter a ZIP code like 98101 or 98101-1234."}


@pytest.mark.parametrize(
    ("region", "typed", "stored"),
    [
        ("ON", "K1A 0B1", "K1A 0B1"),
        ("ON", "m5v3l9", "M5V 3L9"),
        ("BC", "v6b 4y8", "V6B 4Y8"),
        ("QC", "H2Y1C6", "H2Y 1C6"),
        ("AB", "T2P 2M5", "T2P 2M5"),
        ("NL", "A1C 5M2", "A1C 5M2"),
        ("NS", "B3J 3A5", "B3J 3A5"),
        ("PE", "C1A 4P3", "C1A 4P3"),
        ("NB", "E3B 1B2", "E3B 1B2"),
        ("MB", "R3C 4T3", "R3C 4T3"),
        ("SK", "S4P 3V7", "S4P 3V7"),
        ("NT", "X1A 2L9", "X1A 2L9"),
        ("NU", "X0A 0H0", "X0A 0H0"),
        ("YT", "Y1A 1B1", "Y1A 1B1"),
        ("ON", "K1W 1Z9", "K1W 1Z9"),  # W and Z are fine after the first letter
    ],
)
def test_canadian_postal_codes_are_normalised(region, typed, stored):
    address, errors = validate_address(
        {**TORONTO, "region": region, "postal_code": typed}, country="CA"
    )
    assert errors == {}
    assert address.postal_code == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a postal code like K1A 0B1."),
        ("M5V3L", "Enter a postal code like K1A 0B1."),
        ("MM5 3L9", "Enter a postal code like K1A 0B1."),
        ("98101", "Enter a postal code like K1A 0B1."),
        ("M5V-3L9", "Enter a postal code like K1A 0B1."),
        ("D5V 3L9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("M5F 3L9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("M5V 3I9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("M5O 3L9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("M5V 3Q9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("U5V 3L9", "Canadian postal codes never use the letters D, F, I, O, Q or U."),
        ("W5V 3L9", "A Canadian postal code never starts with W or Z."),
        ("Z5V 3L9", "A Canadian postal code never starts with W or Z."),
    ],
)
def test_malformed_canadian_postal_codes_are_refused(typed, message):
    _, errors = validate_address({**TORONTO, "postal_code": typed}, country="CA")
    assert errors == {"postal_code": message}


@pytest.mark.parametrize(
    ("region", "typed", "message"),
    [
        ("BC", "M5V 3L9", "M5V 3L9 is a postal code in Ontario, not in British Columbia."),
        ("ON", "V6B 4Y8", "V6B 4Y8 is a postal code in British Columbia, not in Ontario."),
        ("ON", "H2Y 1C6", "H2Y 1C6 is a postal code in Quebec, not in Ontario."),
        ("QC", "K1A 0B1", "K1A 0B1 is a postal code in Ontario, not in Quebec."),
        ("AB", "S4P 3V7", "S4P 3V7 is a postal code in Saskatchewan, not in Alberta."),
        ("YT", "X1A 2L9",
         "X1A 2L9 is a postal code in Northwest Territories or Nunavut, not in Yukon."),
        ("NT", "Y1A 1B1", "Y1A 1B1 is a postal code in Yukon, not in Northwest Territories."),
    ],
)  # fmt: skip
def test_a_postal_code_from_another_province_names_the_province(region, typed, message):
    _, errors = validate_address({**TORONTO, "region": region, "postal_code": typed}, country="CA")
    assert errors == {"postal_code": message}


def test_an_invalid_province_leaves_the_postal_code_checked_for_its_shape_only():
    _, errors = validate_address({**TORONTO, "region": "WA"}, country="CA")
    assert errors == {"region": "WA is not a Canadian province or territory."}


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [
        ("US", "wa", "WA"), ("US", "US-WA", "WA"), ("US", "Washington", "WA"),
        ("US", "district of columbia", "DC"), ("CA", "qc", "QC"), ("CA", "Quebec", "QC"),
        ("CA", "CA-NU", "NU"), ("DE", "by", "BY"), ("DE", "Bayern", "BY"), ("DE", "", ""),
        ("FR", "", ""), ("NL", "NH", "NH"),
    ],
)  # fmt: skip
def test_regions_by_code_or_name(country, typed, stored):
    region, errors = _region_of(country, typed)
    assert errors == {}
    assert region == stored


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("US", "ON", "ON is not a US state."),
        ("US", "BC", "BC is not a US state."),
        ("US", "XX", "XX is not a US state."),
        ("US", "", "Choose a state."),
        ("US", "Ontario", "Choose a US state from the list."),
        ("US", "PR", "PR is not a US state: for Puerto Rico, choose Puerto Rico as the country."),
        ("US", "GU", "GU is not a US state: for Guam, choose Guam as the country."),
        ("US", "AE", "Military addresses (AA, AE, AP) cannot be an account's mailing address."),
        ("CA", "WA", "WA is not a Canadian province or territory."),
        ("CA", "NY", "NY is not a Canadian province or territory."),
        ("CA", "", "Choose a province or territory."),
        ("CA", "Washington", "Choose a Canadian province or territory from the list."),
        ("DE", "ON", "ON is not a region of Germany."),
        ("DE", "Ontario", "Choose a region of Germany from the list."),
    ],
)
def test_a_region_of_another_country_is_refused_in_plain_words(country, typed, message):
    _, errors = _region_of(country, typed)
    assert errors == {"region": message}


def _region_of(country, typed):
    data = {"line1": "1 Main St", "city": "Springfield", "region": typed, "postal_code": ""}
    if country == "US":
        data["postal_code"] = "98101"
    if country == "CA":
        data["postal_code"] = {"QC": "H2Y 1C6", "NU": "X0A 0H0"}.get(typed[-2:].upper(), "H2Y 1C6")
    address, errors = validate_address(data, country=country)
    return (address.region if address else None), errors


@pytest.mark.parametrize(
    ("typed", "stored", "message"),
    [
        ("", "", None),
        ("10115", "10115", None),
        ("d02 x285", "D02 X285", None),
        ("SW1A  1AA", "SW1A 1AA", None),
        ("1234-567", "1234-567", None),
        ("1", None, "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."),
        ("12345678901", None, "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."),
        ("10115!", None, "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."),
        ("-1011", None, "Enter a postal code of 2 to 10 letters, digits, spaces or hyphens."),
    ],
)
def test_other_countries_postal_codes_follow_a_light_rule(typed, stored, message):
    address, errors = validate_address(
        {"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": typed}, country="DE"
    )
    assert errors == ({"postal_code": message} if message else {})
    assert (address.postal_code if address else None) == stored


def test_territories_use_zip_codes():
    address, errors = validate_address(
        {"line1": "1 Calle Fortaleza", "city": "San Juan", "postal_code": "009011234"},
        country="PR",
    )
    assert errors == {}
    assert address.postal_code == "00901-1234"


def test_a_country_without_subdivisions_takes_no_region():
    _, errors = validate_address(
        {"line1": "1 Calle Fortaleza", "city": "San Juan", "region": "SJ",
         "postal_code": "00901"}, country="PR",
    )  # fmt: skip
    assert errors == {"region": "Puerto Rico has no regions: leave this empty."}


@pytest.mark.parametrize("country", ["ZZ", "", "USA"])
def test_an_unknown_country_is_an_error_on_the_country(country):
    assert validate_address(SEATTLE, country=country) == (
        None,
        {"country": "Choose a country from the list."},
    )
    assert validate_field("city", "Seattle", country=country) == "Choose a country from the list."


# -- one field at a time -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "country", "region", "message"),
    [
        ("line1", "", "US", "", "Enter the street address."),
        ("line2", "", "US", "", None),
        ("city", "Seattle", "US", "", None),
        ("region", "ON", "US", "", "ON is not a US state."),
        ("postal_code", "98101-1234", "US", "", None),
        ("postal_code", "M5V 3L9", "CA", "BC", "M5V 3L9 is a postal code in Ontario, not in "
         "British Columbia."),
        ("postal_code", "M5V 3L9", "CA", "british columbia", "M5V 3L9 is a postal code in "
         "Ontario, not in British Columbia."),
        ("postal_code", "M5V 3L9", "CA", "", None),  # province not chosen yet
        ("postal_code", "M5V 3L9", "CA", "WA", None),  # the region's own error says it
    ],
)  # fmt: skip
def test_one_field_as_the_reseller_types(field, value, country, region, message):
    assert validate_field(field, value, country=country, region=region) == message


def test_validate_field_refuses_a_field_that_is_not_an_address_field():
    with pytest.raises(ValueError, match="not an address field"):
        validate_field("country", "US", country="US")


address_text = st.text(max_size=30) | st.sampled_from(
    ["", "WA", "ON", "BC", "Quebec", "98101", "981011234", "M5V 3L9", "x0a0h0", "\n", " "]
)
countries = st.sampled_from(["US", "CA", "DE", "FR", "PR", "GB", "ZZ", "us", ""])


@settings(max_examples=300, deadline=None)
@given(data=st.fixed_dictionaries({field: address_text for field in ADDRESS_FIELDS}),
       country=countries)  # fmt: skip
def test_any_address_gives_an_address_or_messages_and_agrees_field_by_field(data, country):
    address, errors = validate_address(data, country=country)
    assert (address is None) == bool(errors)
    assert all(isinstance(message, str) and message for message in errors.values())
    if "country" in errors:
        return
    for field in ADDRESS_FIELDS:
        message = validate_field(field, data[field], country=country, region=data["region"])
        assert message == errors.get(field)
    if address is not None:
        again, errors_again = validate_address(
            {field: getattr(address, field) for field in ADDRESS_FIELDS}, country=country
        )
        assert (again, errors_again) == (address, {})


# -- tax IDs ---------------------------------------------------------------------------------

# Prefixes the IRS has never assigned (IRS, "How EINs are assigned and valid EIN prefixes").
UNASSIGNED_EIN_PREFIXES = {
    "00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89",
    "96", "97",
}  # fmt: skip


@pytest.mark.parametrize("prefix", [f"{n:02d}" for n in range(100)])
def test_ein_prefixes_follow_the_irs_list(prefix):
    number, message = validate_tax_id(f"{prefix}-2468013", country="US")
    if prefix in UNASSIGNED_EIN_PREFIXES:
        assert (number, message) == (
            None,
            f"{prefix}-… is not a valid EIN prefix: the IRS has not assigned it.",
        )
    else:
        assert (number, message) == (f"{prefix}-2468013", None)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("46-2468013", "46-2468013"), ("462468013", "46-2468013"), (" 04-2103594 ", "04-2103594"),
     ("91-1144442", "91-1144442"), ("4６-2468013", "46-2468013")],  # full-width digit made plain
)  # fmt: skip
def test_valid_eins_are_shown_as_12_3456789(typed, stored):
    assert validate_tax_id(typed, country="US") == (stored, None)


@pytest.mark.parametrize(
    "typed", ["46-246801", "46-24680133", "462-468013", "46 2468013", "AB-2468013", "46_2468013"]
)
def test_malformed_eins_are_refused(typed):
    assert validate_tax_id(typed, country="US") == (
        None,
        "Enter the EIN as 9 digits, like 12-3456789.",
    )


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("123456782", "123456782"), ("12302 6635", "123026635"),
     ("123456782RT0001", "123456782RT0001"), ("123456782 rc 0002", "123456782RC0002"),
     ("123026635-RP-0001", "123026635RP0001")],
)  # fmt: skip
def test_valid_business_numbers(typed, stored):
    assert validate_tax_id(typed, country="CA") == (stored, None)


BN_CHECK_DIGIT = "This Business Number's check digit is wrong: check it for a typing mistake."


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("123456783", BN_CHECK_DIGIT),
        ("123026636", BN_CHECK_DIGIT),
        ("123456783RT0001", BN_CHECK_DIGIT),
        ("123456782XX0001", "The program account must use RC, RM, RP or RT, like 123456782RT0001."),
        ("12345678", "Enter the Business Number as 9 digits, like 123456782, or its 15-character "
         "program account, like 123456782RT0001."),
        ("123456782RT001", "Enter the Business Number as 9 digits, like 123456782, or its "
         "15-character program account, like 123456782RT0001."),
        ("", "Enter the Business Number (BN)."),
    ],
)  # fmt: skip
def test_invalid_business_numbers(typed, message):
    assert validate_tax_id(typed, country="CA") == (None, message)


# Published valid numbers (python-stdnum's documented examples) with and without the prefix.
VALID_VAT_NUMBERS = [
    ("DE", "DE136695976", "DE136695976"),
    ("DE", "136 695 976", "DE136695976"),
    ("FR", "FR 23 334 175 221", "FR23334175221"),
    ("FR", "K7399859412", "FRK7399859412"),
    ("NL", "NL004495445B01", "NL004495445B01"),
    ("NL", "004495445B01", "NL004495445B01"),
    ("IE", "IE 6433435F", "IE6433435F"),
    ("IE", "6433435OA", "IE6433435OA"),
    ("IE", "8D79739I", "IE8D79739I"),
    ("IT", "IT 00743110157", "IT00743110157"),
    ("ES", "B64717838", "ESB64717838"),
    ("BE", "BE 428759497", "BE0428759497"),
    ("AT", "ATU13585627", "ATU13585627"),
    ("PL", "pl 856-734-62-15", "PL8567346215"),
    ("SE", "SE 123456789701", "SE123456789701"),
    ("GR", "EL 094259216", "EL094259216"),
    ("GR", "GR094259216", "EL094259216"),
    ("GR", "094259216", "EL094259216"),
]


@pytest.mark.parametrize(("country", "typed", "stored"), VALID_VAT_NUMBERS)
def test_valid_eu_vat_numbers_with_or_without_the_prefix(country, typed, stored):
    assert validate_tax_id(typed, country=country) == (stored, None)


CHECK_DIGITS = "This VAT number's check digits are wrong: check it for a typing mistake."


@pytest.mark.parametrize(
    ("country", "typed", "message"),
    [
        ("DE", "DE136695978", CHECK_DIGITS),
        ("FR", "FR84323140391", CHECK_DIGITS),
        ("NL", "NL123456789B90", CHECK_DIGITS),
        ("IE", "IE6433435E", CHECK_DIGITS),
        ("IT", "IT00743110158", CHECK_DIGITS),
        ("ES", "ESB64717839", CHECK_DIGITS),
        ("BE", "BE0431150351", CHECK_DIGITS),
        ("AT", "ATU13585626", CHECK_DIGITS),
        ("PL", "PL8567346216", CHECK_DIGITS),
        ("GR", "EL123456781", CHECK_DIGITS),
        ("DE", "DE13669597", "This is not a valid VAT number for Germany: check its digits and "
         "letters."),
        ("NL", "NL004495445X01", "This is not a valid VAT number for Netherlands: check its "
         "digits and letters."),
        ("FR", "DE136695976", "A VAT number starting with DE is from Germany: enter the one for "
         "France."),
        ("DE", "FR23334175221", "A VAT number starting with FR is from France: enter the one for "
         "Germany."),
        ("IT", "EL094259216", "A VAT number starting with EL is from Greece: enter the one for "
         "Italy."),
        ("IE", "GB980780684", "A VAT number starting with GB is from United Kingdom: enter the "
         "one for Ireland."),
        ("DE", "", "Enter the VAT number."),
    ],
)  # fmt: skip
def test_invalid_eu_vat_numbers(country, typed, message):
    assert validate_tax_id(typed, country=country) == (None, message)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("12.345.678/0001-95", "12.345.678/0001-95"), ("  ABC  123 ", "ABC 123"), ("X1Z", "X1Z")],
)
def test_other_countries_take_a_plain_identifier(typed, stored):
    assert validate_tax_id(typed, country="BR") == (stored, None)


@pytest.mark.parametrize("typed", ["AB", "x" * 41, "12#34", "ＡＢＣ123", "12\n34", "<b>1</b>"])
def test_other_countries_refuse_odd_identifiers(typed):
    number, message = validate_tax_id(typed, country="BR")
    assert number is None
    assert message in {
        "Enter the tax ID: 3 to 40 letters, digits, spaces or . - / characters.",
        "Remove the line breaks and other control characters.",
    }


tax_countries = st.sampled_from(["US", "CA", "DE", "FR", "NL", "IE", "IT", "GR", "ES", "BR", ""])


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=40), country=tax_countries)
def test_any_tax_id_gives_a_number_or_a_message_never_an_exception(value, country):
    number, message = validate_tax_id(value, country=country)
    assert (number is None) != (message is None)
    if number is not None:
        assert validate_tax_id(number, country=country) == (number, None)


@settings(max_examples=100, deadline=None)
@given(digits=st.from_regex(r"[0-9]{9}", fullmatch=True), country=st.sampled_from(["US", "CA"]))
def test_nine_digits_are_always_answered(digits, country):
    number, message = validate_tax_id(digits, country=country)
    assert (number is None) != (message is None)


# -- legal name ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "current", "result"),
    [
        ("  Northwind   Traders  LLC ", "Northwind Inc.", ("Northwind Traders LLC", None)),
        ("Ångström AB", "Angstrom AB", ("Ångström AB", None)),
        ("AB", "Acme", ("AB", None)),
        ("x" * 200, "Acme", ("x" * 200, None)),
        ("", "Acme", (None, "Enter the new legal name.")),
        ("   ", "Acme", (None, "Enter the new legal name.")),
        ("A", "Acme", (None, "Enter at least 2 characters.")),
        ("x" * 201, "Acme", (None, "Use at most 200 characters.")),
        ("Acme\nCorp", "Acme", (None, "Remove the line breaks and other control characters.")),
        ("acme  CORP", "Acme Corp", (None, "This is the current legal name: enter the new one.")),
        ("Acme Corp", " Acme\tCorp ", (None, "This is the current legal name: enter the new one.")),
    ],
)
def test_legal_names(typed, current, result):
    assert validate_legal_name(typed, current=current) == result


@settings(max_examples=200, deadline=None)
@given(value=st.text(max_size=250), current=st.text(max_size=20))
def test_any_legal_name_gives_a_name_or_a_message(value, current):
    name, message = validate_legal_name(value, current=current)
    assert (name is None) != (message is None)
    if name is not None:
        assert 2 <= len(name) <= 200
        assert name == name.strip()
