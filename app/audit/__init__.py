"""The account's audit log (SPEC §10): who changed what, when and from where."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/account")

from app.audit import routes  # noqa: E402, F401
