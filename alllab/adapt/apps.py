"""App config for the Models page (lab adaptation)."""

from django.apps import AppConfig


class AdaptConfig(AppConfig):
    name = "alllab.adapt"
    label = "adapt"
    verbose_name = "Lab adaptation"
