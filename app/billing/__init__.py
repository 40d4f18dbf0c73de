from flask import Blueprint

bp = Blueprint("billing", __name__, url_prefix="/billing", cli_group="billing")

from app.billing import cli, routes  # noqa: E402, F401
