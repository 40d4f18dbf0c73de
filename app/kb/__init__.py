from flask import Blueprint

bp = Blueprint("kb", __name__, url_prefix="/help")

from app.kb import routes  # noqa: E402, F401
