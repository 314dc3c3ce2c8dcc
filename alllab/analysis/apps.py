"""App config for analysis."""

from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    name = "alllab.analysis"
    label = "analysis"
