"""Entry point for `flask --app wsgi` and `gunicorn wsgi:app`."""

import os

from app import create_app
from app.config import Config, DevelopmentConfig

app = create_app(Config if os.environ.get("PORTAL_ENV") == "production" else DevelopmentConfig)
