"""The Celery app: configuration comes from Django settings (``CELERY_*``), tasks from each app's ``tasks.py``."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alllab.settings")

app = Celery("alllab")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
