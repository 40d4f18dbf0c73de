"""The sandbox gateway's hosted pages under /sandbox/gateway/ (being written)."""

from flask import Blueprint

bp = Blueprint("sandbox_gateway", __name__, url_prefix="/sandbox/gateway")
