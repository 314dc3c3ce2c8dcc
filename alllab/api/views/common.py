"""What every API view shares: the caller's scope, renderers, pagination and the documented error responses."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, pagination, renderers
from rest_framework.decorators import api_view, authentication_classes, permission_classes, throttle_classes
from rest_framework.request import Request
from rest_framework.views import APIView

from alllab.api.scope import Scope, scope_for_request
from alllab.api.serializers import ErrorSerializer


class ApiView(APIView):
    """Base view: ``self.scope(request)`` says which labs the caller may read and write."""

    def scope(self, request: Request) -> Scope:
        if not hasattr(request, "_alllab_scope"):
            request._alllab_scope = scope_for_request(request)
        return request._alllab_scope


class PassthroughRenderer(renderers.BaseRenderer):
    """Renders text or bytes as they are (FHIR, HL7, PNG bodies) and anything else, i.e. errors, as JSON."""

    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if isinstance(data, bytes):
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        return renderers.JSONRenderer().render(data)


class FhirJsonRenderer(renderers.JSONRenderer):
    media_type = "application/fhir+json"
    format = "fhir"


class Hl7Renderer(PassthroughRenderer):
    media_type = "x-application/hl7-v2+er7"
    format = "hl7"
    charset = "utf-8"


class PngRenderer(PassthroughRenderer):
    media_type = "image/png"
    format = "png"


class CasePagination(pagination.PageNumberPagination):
    page_size = 50


class CellPagination(pagination.PageNumberPagination):
    page_size = 500  # a smear has tens to a few hundred white cells: usually one page


JSON = "application/json"


def _err(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


# Keyed by (status, media type): errors are JSON even where the success body is FHIR, HL7 or PNG.
ERR_400 = {(400, JSON): _err("Bad input; `error.field` names the field.")}
ERR_AUTH = {
    (401, JSON): _err("No credentials, or an unknown, malformed or revoked token."),
    (403, JSON): _err("Signed in, but without a role that may do this."),
    (429, JSON): _err("Too many requests from this token or user; retry after the `Retry-After` seconds."),
}
ERR_404 = {(404, JSON): _err("No such object in the caller's lab (another lab's object looks the same).")}


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE"])
@authentication_classes([])
@permission_classes([])
@throttle_classes([])
def api_not_found(request: Request, *args: Any, **kwargs: Any) -> None:
    """Any unknown path under /api/v1/: a JSON 404 in the API's error shape, not Django's HTML page."""
    raise exceptions.NotFound(f"No API endpoint at {request.path}.")
