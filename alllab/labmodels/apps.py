"""App config for the lab model registry."""

from django.apps import AppConfig


class LabModelsConfig(AppConfig):
    name = "alllab.labmodels"
    label = "labmodels"
    verbose_name = "Lab models"
