"""API v1 routes; names are stable (clients and tests reverse them)."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from alllab.api.views.cases import CaseDetailView, CaseListCreateView
from alllab.api.views.common import api_not_found
from alllab.api.views.lab_models import LabModelActiveView, LabModelDetailView, LabModelListView
from alllab.api.views.report_pdf import CaseReportPdfView
from alllab.api.views.reports import CaseFhirView, CaseHl7View
from alllab.api.views.slides import CaseSlideUploadView, CellCropView, SlideCellsView, SlideDetailView

app_name = "api"

urlpatterns = [
    path("cases/", CaseListCreateView.as_view(), name="case-list"),
    path("cases/<int:case_id>/", CaseDetailView.as_view(), name="case-detail"),
    path("cases/<int:case_id>/slides/", CaseSlideUploadView.as_view(), name="case-slides"),
    path("cases/<int:case_id>/fhir/", CaseFhirView.as_view(), name="case-fhir"),
    path("cases/<int:case_id>/hl7/", CaseHl7View.as_view(), name="case-hl7"),
    path("cases/<int:case_id>/report.pdf", CaseReportPdfView.as_view(), name="case-report-pdf"),
    path("slides/<int:slide_id>/", SlideDetailView.as_view(), name="slide-detail"),
    path("slides/<int:slide_id>/cells/", SlideCellsView.as_view(), name="slide-cells"),
    path("cells/<int:cell_id>/crop/", CellCropView.as_view(), name="cell-crop"),
    path("models/", LabModelListView.as_view(), name="model-list"),
    path("models/active/", LabModelActiveView.as_view(), name="model-active"),
    path("models/<int:model_id>/", LabModelDetailView.as_view(), name="model-detail"),
    # Like every other door but login and health, the schema and its docs need a session or a LIS token.
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "docs/",
        # The split view serves its start-up script as a file: the site's CSP allows no inline script.
        SpectacularSwaggerSplitView.as_view(url_name="api:schema"),
        name="docs",
    ),
    re_path(r"^.*$", api_not_found, name="not-found"),
]
