"""App config for cases."""

from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "alllab.cases"
    label = "cases"
