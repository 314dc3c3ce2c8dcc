"""WSGI entry point for gunicorn: ``gunicorn alllab.wsgi``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alllab.settings")
application = get_wsgi_application()
