"""URL of the readiness check."""

from django.urls import path

from alllab.health import views

urlpatterns = [path("readyz", views.ready_view, name="ready")]
