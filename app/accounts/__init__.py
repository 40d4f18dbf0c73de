from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.accounts import routes, users_routes  # noqa: E402, F401
