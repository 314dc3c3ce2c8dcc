"""App config for interop (FHIR, HL7 v2, MLLP, webhooks)."""

from django.apps import AppConfig


class InteropConfig(AppConfig):
    name = "alllab.interop"
    label = "interop"
    verbose_name = "Interoperability"

    def ready(self) -> None:
        from alllab.interop import signals  # noqa: F401 (connects the callback trigger to cases.signals.case_analysed)
