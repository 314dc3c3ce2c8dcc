"""Serving stored files (smears, crops) through views that have already checked the user's lab."""

from __future__ import annotations

import mimetypes

from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404


def stored_file_response(field: FieldFile, *, content_type: str | None = None) -> FileResponse:
    """Stream ``field`` with a private cache header; ``Http404`` when empty or missing from storage."""
    if not field:
        raise Http404("No file")
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404("File missing from storage") from None
    guessed = content_type or mimetypes.guess_type(field.name or "")[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=guessed)
    response["Cache-Control"] = "private, max-age=3600"  # patient data: browsers only, never shared caches
    response["X-Content-Type-Options"] = "nosniff"
    return response
