"""URLs of the case pages (``alllab.dashboard.case_views``; under /cases/)."""

from django.urls import path

from alllab.dashboard import case_views as views

urlpatterns = [
    path("", views.case_list_view, name="case_list"),
    path("new/", views.case_create_view, name="case_create"),
    path("<int:case_id>/", views.case_detail_view, name="case_detail"),
    path("<int:case_id>/status/", views.case_status_view, name="case_status"),
    path("<int:case_id>/slides/", views.slide_upload_view, name="slide_upload"),
    path("slides/<int:slide_id>/image/", views.slide_image_view, name="slide_image"),
    path("slides/<int:slide_id>/thumb.jpg", views.slide_thumb_view, name="slide_thumb"),
]
