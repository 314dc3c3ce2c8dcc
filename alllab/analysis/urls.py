"""URLs of the analysis pages."""

urlpatterns: list = []
