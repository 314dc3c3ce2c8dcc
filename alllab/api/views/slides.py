"""Slides: upload (202, analysis queued), status and results, cells, and each cell's crop behind authentication."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, parsers, status
from rest_framework.request import Request
from rest_framework.response import Response

from alllab.analysis.intake import UploadRejected, slide_create, upload_limit_bytes
from alllab.analysis.selectors import run_current
from alllab.api.errors import Conflict, PayloadTooLarge, UnsupportedImage
from alllab.api.selectors import api_case_get, api_cell_get, api_slide_cells, api_slide_get
from alllab.api.serializers import SlideUploadInputSerializer
from alllab.api.views.common import ERR_400, ERR_404, ERR_AUTH, JSON, ApiView, CellPagination, PngRenderer, _err
from alllab.files import stored_file_response
from alllab.interop.representations import cell_json, slide_json
from alllab.interop.serializers import CellPageSerializer, CellSerializer, SlideSerializer

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and headers around the file part


class CaseSlideUploadView(ApiView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        operation_id="cases_slides_create",
        parameters=[OpenApiParameter("case_id", int, OpenApiParameter.PATH)],
        request={"multipart/form-data": SlideUploadInputSerializer},
        responses={
            202: OpenApiResponse(SlideSerializer, description="Stored; analysis queued. Poll the slide."),
            (409, JSON): _err("The case is signed off: no slide can be added to a signed report (code `case_signed`)."),
            (413, JSON): _err("Larger than the upload limit (`ALLLAB_MAX_UPLOAD_MB`)."),
            (415, JSON): _err(
                "Not multipart, or the bytes are not an image the worker reads (JPEG, PNG, TIFF, BMP, WEBP...)."
            ),
            **ERR_400,
            **ERR_AUTH,
            **ERR_404,
        },
        description="Upload one smear image as the multipart field `image`. The analysis runs in the background.",
    )
    def post(self, request: Request, case_id: int) -> Response:
        # Refuse an oversized body before reading it, as far as its declared length tells.
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > upload_limit_bytes() + MULTIPART_OVERHEAD:  # slide_create checks the file itself
            raise PayloadTooLarge(f"The upload is larger than {settings.ALLLAB_MAX_UPLOAD_MB} MB.")
        case = api_case_get(scope=self.scope(request), case_id=case_id)
        data = SlideUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            # slide_create owns the rules (role, size, format); the API only translates its refusals.
            slide = slide_create(
                scope=self.scope(request),
                case=case,
                uploaded_file=data.validated_data["image"],
                uploaded_by=request.user,
            )
        except UploadRejected as exc:
            if exc.status == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE:
                raise PayloadTooLarge(exc.message) from exc
            if exc.status == status.HTTP_409_CONFLICT:
                raise Conflict(exc.message, code=exc.code) from exc
            if exc.status == status.HTTP_415_UNSUPPORTED_MEDIA_TYPE:
                raise UnsupportedImage(exc.message) from exc
            raise exceptions.ValidationError({"image": [exc.message]}, code=exc.code) from exc
        except DjangoValidationError as exc:
            raise exceptions.ValidationError({"image": exc.messages}) from exc
        except PermissionDenied as exc:
            raise exceptions.PermissionDenied(str(exc)) from exc
        return Response(
            SlideSerializer(slide_json(slide, run_current(slide=slide))).data, status=status.HTTP_202_ACCEPTED
        )


class SlideDetailView(ApiView):
    @extend_schema(
        operation_id="slides_retrieve",
        parameters=[OpenApiParameter("slide_id", int, OpenApiParameter.PATH)],
        responses={200: SlideSerializer, **ERR_AUTH, **ERR_404},
        description="A slide with its current analysis: `status` queued/running/done/failed, `error` when failed, "
        "the stored summary once done (nulls before).",
    )
    def get(self, request: Request, slide_id: int) -> Response:
        slide, run = api_slide_get(scope=self.scope(request), slide_id=slide_id)
        return Response(SlideSerializer(slide_json(slide, run)).data)


class SlideCellsView(ApiView):
    @extend_schema(
        operation_id="slides_cells_list",
        parameters=[
            OpenApiParameter("slide_id", int, OpenApiParameter.PATH),
            OpenApiParameter("page", int, OpenApiParameter.QUERY, required=False),
        ],
        responses={200: CellPageSerializer, **ERR_AUTH, **ERR_404},
        description="The cells of the slide's current analysis, most likely blast first, 500 a page; empty until done.",
    )
    def get(self, request: Request, slide_id: int) -> Response:
        _, run = api_slide_get(scope=self.scope(request), slide_id=slide_id)
        paginator = CellPagination()
        page = paginator.paginate_queryset(api_slide_cells(scope=self.scope(request), run=run), request, view=self)
        return paginator.get_paginated_response([CellSerializer(cell_json(c)).data for c in page])


class CellCropView(ApiView):
    renderer_classes = [PngRenderer]

    @extend_schema(
        operation_id="cells_crop_retrieve",
        parameters=[OpenApiParameter("cell_id", int, OpenApiParameter.PATH)],
        responses={(200, "image/png"): OpenApiTypes.BINARY, **ERR_AUTH, **ERR_404},
        description="The cell's crop as PNG; only for callers in the cell's lab (there is no public media URL).",
    )
    def get(self, request: Request, cell_id: int) -> FileResponse:
        cell = api_cell_get(scope=self.scope(request), cell_id=cell_id)
        return stored_file_response(cell.crop, content_type="image/png")
