"""The building blocks of the API's request and response models (pydantic v2). The same
models validate the requests and, through `model_json_schema`, describe them in the OpenAPI
document.

Money travels as a JSON string of digits with at most two decimals ("12.50"), never as a
number, and becomes a Decimal; dates are ISO 8601 strings (YYYY-MM-DD). Text never holds a NUL
character (PostgreSQL can neither store nor compare one)."""

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,2})?$"
SIGNED_MONEY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,2})?$"
# Quantities and unit prices of invoice lines: up to four decimals, as the invoice stores them.
QUANTITY_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,4})?$"
UNIT_PRICE_PATTERN = r"^-?[0-9]{1,8}(\.[0-9]{1,4})?$"
# A document number of the ERP: letters, digits and . _ / - (what invoices and credit notes
# print), at most 20 characters.
DOCUMENT_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,19}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


class RequestModel(BaseModel):
    """A request body or query: strict types (no number where text goes, no float where a
    whole number goes) and no field the API does not know."""

    model_config = ConfigDict(strict=True, extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Remove the NUL character.")
    return value


def Text(max_length: int, min_length: int = 1) -> Any:  # noqa: N802 - reads like a type
    """A string of `min_length`…`max_length` characters without NUL."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length,
                                            max_length=max_length),
                     AfterValidator(_no_nul)]


def _decimal_type(pattern: str, sentence: str, example: str) -> Any:
    compiled = re.compile(pattern)

    def parse(value: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise PydanticCustomError("decimal_string", sentence)
        return Decimal(value)

    return Annotated[Decimal, PlainValidator(parse), PlainSerializer(str, return_type=str),
                     WithJsonSchema({"type": "string", "pattern": pattern,
                                     "examples": [example]})]


def _greater_than_zero(value: Decimal) -> Decimal:
    if value <= 0:
        raise PydanticCustomError("not_positive", "Enter an amount greater than 0.")
    return value


MONEY_SENTENCE = 'Enter an amount as a string with at most 2 decimals, e.g. "12.50".'
# An amount of zero or more ("0.00", "12.50").
Money = _decimal_type(MONEY_PATTERN, MONEY_SENTENCE, "12.50")
# An amount greater than zero.
PositiveMoney = Annotated[Money, AfterValidator(_greater_than_zero)]
# An amount that may be negative (a discount line).
SignedMoney = _decimal_type(SIGNED_MONEY_PATTERN, 'Enter an amount as a string with at most '
                            '2 decimals, e.g. "12.50" or "-3.00".', "-3.00")
Quantity = _decimal_type(QUANTITY_PATTERN, 'Enter a quantity as a string with at most 4 '
                         'decimals, e.g. "3" or "1.5".', "3")
UnitPrice = _decimal_type(UNIT_PRICE_PATTERN, 'Enter a price as a string with at most 4 '
                          'decimals, e.g. "12.5000".', "12.5000")
# A decimal amount as a response carries it (any number of decimals, maybe negative).
DecimalOut = Annotated[Decimal, PlainSerializer(str, return_type=str),
                       WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                                       "examples": ["12.50"]})]

DocumentNumber = Annotated[str, StringConstraints(pattern=DOCUMENT_NUMBER_PATTERN),
                           Field(examples=["ERP-CN-1042"])]
Currency = Annotated[str, StringConstraints(pattern=CURRENCY_PATTERN), Field(examples=["USD"])]
Day = Annotated[date, Field(examples=["2026-03-01"])]


class ErrorBody(ResponseModel):
    """Every error: a code, a sentence, and for invalid input a sentence per field."""

    error: str = Field(examples=["invalid_request"])
    message: str
    fields: dict[str, str] | None = Field(
        default=None, examples=[{"amount": "Enter an amount greater than 0."}])
