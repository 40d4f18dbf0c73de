from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.accounts import routes  # noqa: E402, F401
