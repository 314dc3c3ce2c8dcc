"""URL map: the pages, the auth views, and the lab-scoped admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("alllab.dashboard.urls")),
    path("", include("alllab.health.urls")),  # /readyz (no login: load balancers)
    path("cases/", include("alllab.dashboard.case_urls")),
    path("analysis/", include("alllab.analysis.urls")),
    path("accounts/", include("alllab.accounts.urls")),
    path("review/", include("alllab.review.urls")),
    path("lab/models/", include("alllab.adapt.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("alllab.api.urls")),
]
