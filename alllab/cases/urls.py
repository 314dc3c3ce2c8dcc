"""URLs of the cases pages."""

urlpatterns: list = []
