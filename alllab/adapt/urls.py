"""URLs of the Models page (mounted under /lab/models/)."""

from django.urls import path

from alllab.adapt import views

app_name = "adapt"

urlpatterns = [
    path("", views.models_view, name="models"),
    path("adapt/", views.adapt_view, name="adapt"),
    path("rollback/", views.model_rollback_view, name="rollback"),
    path("reanalyse/", views.reanalyse_view, name="reanalyse"),
    path("jobs/<int:job_id>.json", views.job_status_view, name="job_status"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel_view, name="job_cancel"),
    path("<int:model_id>/", views.model_detail_view, name="model_detail"),
    path("<int:model_id>/activate/", views.model_activate_view, name="model_activate"),
]
