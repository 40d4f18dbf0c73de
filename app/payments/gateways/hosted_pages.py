"""The sandbox gateway's hosted pages under /sandbox/gateway/: the card-entry page that a real
gateway serves on its own site. It plays the gateway, so it is public and shows nothing of the
portal's account: only the merchant's name (ISSUER_NAME) and the sandbox's test cards.

The card goes to `SandboxGateway.tokenize_card`, which keeps a token, the brand, the last 4
digits and the expiry, never the number or the security code; neither is logged, and a form
sent back with an error shows the number again but never the security code. Then the browser
goes back to the setup's return URL with `reference` (and `cancelled` when the reader gave up),
as a real gateway's redirect does; the return URL must be on this site. Card submissions are
rate-limited per client address and per card form, against card testing."""

import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, current_app, make_response, redirect, render_template, request
from werkzeug.exceptions import HTTPException, NotFound
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.accounts.throttle import client_address
from app.errors import DomainError
from app.extensions import db, limiter
from app.forms import Form
from app.payments.gateways import get_gateway
from app.payments.gateways.base import InvalidPaymentDetails
from app.payments.gateways.sandbox import TEST_CARDS, SandboxGateway
from app.payments.gateways.sandbox_models import CardBehaviour
from app.payments.gateways.validation import card_brand, check_card_number, check_cvc, check_expiry
from app.web import public

bp = Blueprint("sandbox_gateway", __name__, url_prefix="/sandbox/gateway")

# Card submissions from one client address, and to one card form (a reference).
CARD_PAGE_ADDRESS_LIMIT = "30 per hour"
CARD_PAGE_SETUP_LIMIT = "10 per hour"
TEST_CARD_RESULTS = {
    CardBehaviour.SUCCEEDS: "Payments succeed",
    CardBehaviour.DECLINED: "Payments are declined",
    CardBehaviour.INSUFFICIENT_FUNDS: "Payments fail for insufficient funds",
}
EXPIRY_MESSAGE = "Enter the expiry date as MM/YY, for example 12/30."
_EXPIRY = re.compile(r"([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})|([0-9]{2})([0-9]{2})")
HTTP_MESSAGES = {
    400: "This card form could not be read. Go back to the Partner Portal and start adding "
         "the card again.",
    404: "There is no such page at the sandbox gateway.",
    429: "Too many card attempts. Wait an hour, then start adding the card again.",
}


class ForeignReturnUrl(DomainError):
    """The setup's return URL is not a path on this site: the page sends nobody there."""

    status = 400


class CardForm(Form):
    number = StringField(
        "Card number", validators=[DataRequired("Enter the card number."), Length(max=40)],
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"},
    )
    expiry = StringField(
        "Expiry date", description="MM/YY, for example 12/30.",
        validators=[DataRequired(EXPIRY_MESSAGE), Length(max=10)],
        render_kw={"autocomplete": "cc-exp", "inputmode": "numeric"},
    )
    cvc = StringField(
        "Security code (CVC)",
        description="3 digits on the back, or 4 on the front of an American Express card.",
        validators=[DataRequired("Enter the security code from the card."), Length(max=10)],
        render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"},
    )
    submit = SubmitField("Add card")


def parse_expiry(text: str) -> tuple[int, int]:
    """(month, year) from "MM/YY", "M/YYYY" or "MMYY". Raises InvalidPaymentDetails."""
    match = _EXPIRY.fullmatch((text or "").strip())
    if match is None:
        raise InvalidPaymentDetails("expiry", EXPIRY_MESSAGE)
    month, year = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    return int(month), int(year)


def _sandbox() -> SandboxGateway:
    """The sandbox gateway; its pages do not exist when another gateway is configured."""
    gateway = get_gateway()
    if not isinstance(gateway, SandboxGateway):
        raise NotFound()
    return gateway


def return_path(url: str) -> str:
    """The path (and query) of a return URL on this site. Raises ForeignReturnUrl for one on
    another site, or that is not a plain path."""
    parts = urlsplit(url)
    same_site = not parts.scheme and not parts.netloc or (
        (parts.scheme, parts.netloc) == (request.scheme, request.host))
    if not same_site or not parts.path.startswith("/") or parts.path.startswith("//") \
            or "\\" in url:
        raise ForeignReturnUrl("This card form's return address is not on this site, so the "
                               "gateway will not send you there.")
    return urlunsplit(("", "", parts.path, parts.query, ""))


def _with(path: str, **params: str) -> str:
    parts = urlsplit(path)
    query = "&".join(part for part in (parts.query, urlencode(params)) if part)
    return urlunsplit(("", "", parts.path, query, ""))


def _setup_key() -> str:
    return f"card form {request.view_args.get('reference', '')}"


def _checked(form: CardForm, gateway: SandboxGateway) -> tuple[str, int, int] | None:
    """The card number, expiry month and year when each field passes the gateway's checks;
    otherwise None, with each problem next to its field."""
    number = month = year = None
    try:
        number = check_card_number(form.number.data)
    except InvalidPaymentDetails as invalid:
        form.number.errors.append(invalid.message)
    try:
        month, year = check_expiry(*parse_expiry(form.expiry.data), gateway.today())
    except InvalidPaymentDetails as invalid:
        form.expiry.errors.append(invalid.message)
    try:
        check_cvc(form.cvc.data, card_brand(number) if number else "Card")
    except InvalidPaymentDetails as invalid:
        form.cvc.errors.append(invalid.message)
    if number is None or month is None or form.cvc.errors:
        return None
    return number, month, year


@bp.route("/cards/<reference>", methods=["GET", "POST"])
@public
@limiter.limit(CARD_PAGE_ADDRESS_LIMIT, methods=["POST"], key_func=client_address)
@limiter.limit(CARD_PAGE_SETUP_LIMIT, methods=["POST"], key_func=_setup_key)
def card_page(reference: str):
    gateway = _sandbox()
    back = return_path(gateway.card_setup_return_url(reference))
    form = CardForm()
    if form.validate_on_submit() and (card := _checked(form, gateway)) is not None:
        number, month, year = card
        try:
            gateway.tokenize_card(reference, number=number, exp_month=month, exp_year=year,
                                  cvc=form.cvc.data)
        except InvalidPaymentDetails as invalid:
            field = next((f for f in form if f.name == invalid.field), form.number)
            field.errors.append(invalid.message)
        else:
            db.session.commit()
            return redirect(_with(back, reference=reference), code=303)
    form.cvc.data = ""  # never sent back to the browser
    test_cards = [(" ".join(number[i:i + 4] for i in range(0, len(number), 4)),
                   TEST_CARD_RESULTS[behaviour]) for number, behaviour in TEST_CARDS.items()]
    response = make_response(render_template(
        "sandbox/card.html", form=form, reference=reference, test_cards=test_cards,
        merchant=current_app.config["ISSUER_NAME"],
        cancel_url=_with(back, reference=reference, cancelled="1"),
    ), 422 if form.errors else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error_page(status: int, message: str):
    response = make_response(render_template("sandbox/error.html", status=status,
                                             message=message), status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(DomainError)
def gateway_refusal(error: DomainError):
    """An unknown, expired or used card form, or a foreign return address: the gateway's own
    error page (the portal's would show the signed-in user's account)."""
    db.session.rollback()
    return _error_page(error.status, error.message)


@bp.errorhandler(HTTPException)
def gateway_http_error(error: HTTPException):
    status = error.code or 500
    return _error_page(status, HTTP_MESSAGES.get(status, error.description or ""))
