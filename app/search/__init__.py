from flask import Blueprint

bp = Blueprint("search", __name__, url_prefix="/help/search")

from app.search import cli, routes  # noqa: E402, F401
