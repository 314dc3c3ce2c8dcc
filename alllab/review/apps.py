"""App config for review: connects the audit signal handlers when Django starts."""

from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "alllab.review"
    label = "review"

    def ready(self) -> None:
        from alllab.review import audit  # noqa: F401 (connects the login, upload and deletion receivers)
