from flask import jsonify
from sqlalchemy import text

from app.extensions import db
from app.health import bp
from app.search.services import get_index
from app.web import public


@bp.route("/healthz")
@public
def healthz():
    """Liveness: the process answers. Touches neither the database nor the index."""
    return jsonify(status="ok")


@bp.route("/readyz")
@public
def readyz():
    """Readiness: the database and the search index can be read."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means not ready
        db.session.rollback()
        checks["database"] = "unavailable"
    try:
        get_index().doc_count()
        checks["search_index"] = "ok"
    except Exception:  # noqa: BLE001
        checks["search_index"] = "unavailable"
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ok" if ready else "unavailable", checks=checks), 200 if ready else 503
