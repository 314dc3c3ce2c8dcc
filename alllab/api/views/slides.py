"""Slides: upload (202, analysis queued), status and results, cells, and each cell's crop behind authentication."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.uploadedfile import UploadedFile
from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from PIL import Image, UnidentifiedImageError
from rest_framework import exceptions, parsers, status
from rest_framework.request import Request
from rest_framework.response import Response

from alllab.analysis.intake import UploadRejected
from alllab.analysis.selectors import run_current
from alllab.api.errors import PayloadTooLarge, UnsupportedImage
from alllab.api.representations import cell_json, slide_json
from alllab.api.selectors import api_case_get, api_cell_get, api_slide_cells, api_slide_get
from alllab.api.serializers import CellPageSerializer, CellSerializer, SlideSerializer, SlideUploadInputSerializer
from alllab.api.views.common import ERR_400, ERR_404, ERR_AUTH, JSON, ApiView, CellPagination, PngRenderer, _err
from alllab.cases.services import slide_create

# Formats the worker reads (inference.io); the bytes decide, never the file name or the declared content type.
READABLE_FORMATS = frozenset({"PNG", "JPEG", "MPO", "TIFF", "BMP"})
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and headers around the file part


def upload_limit_bytes() -> int:
    return settings.ALLLAB_MAX_UPLOAD_MB * 1024 * 1024


def sniff_image_format(uploaded: UploadedFile) -> str | None:
    """The image format read from the file's first bytes (Pillow reads only the header), or None if not an image."""
    try:
        with Image.open(uploaded) as image:
            fmt = image.format
    except Image.DecompressionBombError:
        fmt = "too large"  # an image, far too big: the intake refuses it with 413 and the pixel count
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        fmt = None
    finally:
        uploaded.seek(0)
    return fmt if fmt in READABLE_FORMATS or fmt == "too large" else None


class CaseSlideUploadView(ApiView):
    parser_classes = [parsers.MultiPartParser]

    @extend_schema(
        operation_id="cases_slides_create",
        parameters=[OpenApiParameter("case_id", int, OpenApiParameter.PATH)],
        request={"multipart/form-data": SlideUploadInputSerializer},
        responses={
            202: OpenApiResponse(SlideSerializer, description="Stored; analysis queued. Poll the slide."),
            (413, JSON): _err("Larger than the upload limit (`ALLLAB_MAX_UPLOAD_MB`)."),
            (415, JSON): _err("Not multipart, or the bytes are not a PNG, JPEG, TIFF or BMP image."),
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
        if declared > upload_limit_bytes() + MULTIPART_OVERHEAD:
            raise PayloadTooLarge(f"The upload is larger than {settings.ALLLAB_MAX_UPLOAD_MB} MB.")
        scope = self.scope(request)
        case = api_case_get(user=request.user, scope=scope, case_id=case_id)
        if case.lab_id not in scope.write_lab_ids:
            raise exceptions.PermissionDenied("Only the lab's technicians and lab admins may upload slides.")
        data = SlideUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        uploaded = data.validated_data["image"]
        if uploaded.size > upload_limit_bytes():
            raise PayloadTooLarge(f"The upload is larger than {settings.ALLLAB_MAX_UPLOAD_MB} MB.")
        if sniff_image_format(uploaded) is None:
            raise UnsupportedImage()
        try:
            slide = slide_create(case=case, uploaded_file=uploaded, uploaded_by=request.user)
        except UploadRejected as exc:
            # The intake decoded it: the same message and code as the web page, with the status that fits.
            if exc.status == status.HTTP_413_REQUEST_ENTITY_TOO_LARGE:
                raise PayloadTooLarge(exc.message, code=exc.code) from exc
            if exc.status == status.HTTP_415_UNSUPPORTED_MEDIA_TYPE:
                raise UnsupportedImage(exc.message, code=exc.code) from exc
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
        slide, run = api_slide_get(user=request.user, scope=self.scope(request), slide_id=slide_id)
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
        _, run = api_slide_get(user=request.user, scope=self.scope(request), slide_id=slide_id)
        paginator = CellPagination()
        page = paginator.paginate_queryset(api_slide_cells(run=run), request, view=self)
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
        cell = api_cell_get(user=request.user, scope=self.scope(request), cell_id=cell_id)
        if not cell.crop:
            raise Http404("This cell has no crop.")
        try:
            handle = cell.crop.open("rb")
        except FileNotFoundError:
            raise Http404("The crop is missing from storage.") from None
        response = FileResponse(handle, content_type="image/png")
        response["Cache-Control"] = "private, max-age=3600"  # patient data: never in a shared cache
        return response
