from flask import Blueprint

bp = Blueprint("billing", __name__, url_prefix="/billing", cli_group="billing")

from app.billing import cli, po_routes, routes  # noqa: E402, F401
