"""URLs of the home page and the review queue."""

from django.urls import path

from alllab.dashboard import views

urlpatterns = [
    path("", views.home_view, name="home"),
    path("review/", views.review_queue_view, name="review_queue"),
    path("healthz", views.health_view, name="health"),
]
