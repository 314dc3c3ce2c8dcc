"""App config for the dashboard."""

from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "alllab.dashboard"
    label = "dashboard"
