"""``GET /api/v1/cases/{id}/report.pdf``: the case's report for a LIS, the same PDF as the case page's."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request

from alllab.api.selectors import api_case_get
from alllab.api.views.common import ERR_404, ERR_AUTH, ApiView, PassthroughRenderer
from alllab.review.views import pdf_response


class PdfRenderer(PassthroughRenderer):
    media_type = "application/pdf"
    format = "pdf"


class CaseReportPdfView(ApiView):
    renderer_classes = [PdfRenderer]

    @extend_schema(
        operation_id="cases_report_pdf_retrieve",
        parameters=[OpenApiParameter("case_id", int, OpenApiParameter.PATH)],
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, **ERR_AUTH, **ERR_404},
        description="The case's report as PDF: the latest signed version as it was signed (final or amended), or "
        "the preliminary figures before sign-off.",
    )
    def get(self, request: Request, case_id: int) -> HttpResponse:
        case = api_case_get(scope=self.scope(request), case_id=case_id)
        return pdf_response(self.scope(request), case)
