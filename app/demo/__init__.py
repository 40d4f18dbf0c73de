from flask import Blueprint

bp = Blueprint("demo", __name__, cli_group="demo")

from app.demo import cli  # noqa: E402, F401
