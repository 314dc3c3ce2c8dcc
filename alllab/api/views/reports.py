"""A case's results as a FHIR R4 Bundle or an HL7 v2.5.1 ORU^R01, built from the stored numbers."""

from __future__ import annotations

import json

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import renderers
from rest_framework.request import Request
from rest_framework.response import Response

from alllab.api.selectors import api_case_get, api_case_slides
from alllab.api.views.common import ERR_404, ERR_AUTH, ApiView, FhirJsonRenderer, Hl7Renderer
from alllab.interop.adapters import report_data_for_case
from alllab.interop.fhir import fhir_bundle_json
from alllab.interop.hl7 import hl7_oru_er7

CASE_ID = OpenApiParameter("case_id", int, OpenApiParameter.PATH)


class CaseFhirView(ApiView):
    renderer_classes = [FhirJsonRenderer, renderers.JSONRenderer]

    @extend_schema(
        operation_id="cases_fhir_retrieve",
        parameters=[CASE_ID],
        responses={
            (200, "application/fhir+json"): OpenApiResponse(OpenApiTypes.OBJECT, description="A FHIR R4 Bundle."),
            (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="The same, as plain JSON."),
            **ERR_AUTH,
            **ERR_404,
        },
        description="Bundle (collection): DiagnosticReport (preliminary until signed off); once signed, the signed "
        "reviewed result first (method MANUAL-REVIEW: LOINC 11282-1 white cells counted, the differential each class "
        "its own Observation, 26446-5 blasts/100 leukocytes in %, the interpretation); then the automated "
        "pre-classification (method AI-PRECLASS, device = the model) for the case and each slide (cells counted, "
        "blast %, the call with its explanation, the highest blast probability); Patient (pseudonymous identifier "
        "only), Organization, and a Device per model (version, weights sha256, lab model). See docs/api.md.",
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = api_case_get(scope=self.scope(request), case_id=case_id)
        report = report_data_for_case(case=case, slides=api_case_slides(scope=self.scope(request), case=case))
        return Response(json.loads(fhir_bundle_json(report=report)))


class CaseHl7View(ApiView):
    renderer_classes = [Hl7Renderer]

    @extend_schema(
        operation_id="cases_hl7_retrieve",
        parameters=[CASE_ID],
        responses={
            (200, "x-application/hl7-v2+er7"): OpenApiResponse(OpenApiTypes.STR, description="ORU^R01, ER7, CR."),
            **ERR_AUTH,
            **ERR_404,
        },
        description="HL7 v2.5.1 ORU^R01: MSH, PID (pseudonym only), ORC, OBR, NTE (conclusion); once signed, the "
        "reviewed result (OBX-4 R, OBX-17 MANUAL-REVIEW: white cells, each class of the differential, the "
        "interpretation); then the automated pre-classification (OBX-17 AI-PRECLASS, OBX-18 the model and its "
        "sha256) for the case (OBX-4 0) and each slide: cells counted, blast fraction (%, interval in an NTE), call "
        "(with its explanation in an NTE) and highest blast probability. Every segment ends with CR. See docs/api.md.",
    )
    def get(self, request: Request, case_id: int) -> Response:
        case = api_case_get(scope=self.scope(request), case_id=case_id)
        report = report_data_for_case(case=case, slides=api_case_slides(scope=self.scope(request), case=case))
        return Response(hl7_oru_er7(report=report))
