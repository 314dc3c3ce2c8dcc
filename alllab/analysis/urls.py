"""URLs of the analysis pages: the slide gallery and cell images."""

from django.urls import path

from alllab.analysis import views

urlpatterns = [
    path("slides/<int:slide_id>/", views.slide_gallery_view, name="slide_gallery"),
    path("cells/<int:cell_id>/crop.png", views.cell_crop_view, name="cell_crop"),
    path("cells/<int:cell_id>/heatmap.png", views.cell_heatmap_view, name="cell_heatmap"),
]
