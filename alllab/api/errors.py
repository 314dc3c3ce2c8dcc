"""One error shape for every API failure: ``{"error": {"code", "message", "field"?}}``.

DRF's own exceptions (validation, authentication, permission, not found, throttling, parsing) are translated here,
so a client parses one shape whatever went wrong; ``field`` names the first offending input field for a 400.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is larger than the size limit."
    default_code = "payload_too_large"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the state of the resource."
    default_code = "conflict"


class UnsupportedImage(exceptions.APIException):
    status_code = status.HTTP_415_UNSUPPORTED_MEDIA_TYPE
    default_detail = "The upload is not an image this service reads (JPEG, PNG, TIFF, BMP or WEBP)."
    default_code = "unsupported_media_type"


def _first_error(detail: Any, path: str = "") -> tuple[str, str, str]:
    """Depth-first first (field path, message, code) in a DRF error tree."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = path if key == "non_field_errors" else (f"{path}.{key}" if path else str(key))
            return _first_error(value, name)
    if isinstance(detail, list) and detail:
        return _first_error(detail[0], path)
    code = getattr(detail, "code", None) or "invalid"
    return path, str(detail), code


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The error envelope; ``field`` only when one input field is to blame."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    return {"error": error}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: DRF's response, re-shaped; anything unexpected stays a 500 (Django logs it)."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    # Errors are JSON even from the FHIR, HL7 and PNG endpoints, whose renderers would otherwise label them.
    response.content_type = "application/json"
    if isinstance(exc, exceptions.ValidationError):
        field, message, code = _first_error(exc.detail)
        # DRF's per-field code ("required", "invalid", "max_length", ...) tells the client what to fix.
        response.data = error_body(str(code), message, field or None)
        return response
    detail = getattr(exc, "detail", "")
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = error_body(str(code), str(detail))
    return response
