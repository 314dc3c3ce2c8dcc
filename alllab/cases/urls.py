"""URLs of the case pages."""

from django.urls import path

from alllab.cases import views

urlpatterns = [
    path("", views.case_list_view, name="case_list"),
    path("new/", views.case_create_view, name="case_create"),
    path("<int:case_id>/", views.case_detail_view, name="case_detail"),
    path("<int:case_id>/status/", views.case_status_view, name="case_status"),
    path("<int:case_id>/slides/", views.slide_upload_view, name="slide_upload"),
    path("slides/<int:slide_id>/image/", views.slide_image_view, name="slide_image"),
]
