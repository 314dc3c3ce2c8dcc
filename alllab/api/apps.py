"""App config for the REST API."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "alllab.api"
    label = "api"
    verbose_name = "LIS API"

    def ready(self) -> None:
        from alllab.api import schema  # noqa: F401 (registers the OpenAPI auth extension)
