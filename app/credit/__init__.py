"""Account credit (SPEC §9): credit notes, overpayments and returned credit, applied to
invoices automatically at issue or by the reseller to chosen open invoices."""

from flask import Blueprint

bp = Blueprint("credit", __name__, url_prefix="/billing")

from app.credit import routes  # noqa: E402, F401
