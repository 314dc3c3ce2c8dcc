"""Checking an uploaded smear and cleaning it before it is stored.

Every upload is decoded once here with ``inference.io.load_image`` (the worker's own reader), so a file the worker
could not read is refused at the door with a clear message and an HTTP status, instead of becoming a failed run.
What is stored carries no metadata: EXIF, XMP, IPTC and comments can hold patient names, dates and device serials.

- A JPEG or PNG that needs no rotation keeps its pixels bit for bit: only metadata segments or chunks are dropped.
- Anything else (16-bit TIFF, BMP, WEBP, an EXIF-rotated photo, a phone's MPO) is stored as a lossless PNG of the
  upright 8-bit RGB pixels the worker would analyse anyway.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

import numpy as np
from django.core.exceptions import ValidationError
from PIL import Image

from inference.io import DEFAULT_MAX_PIXELS, ImageError, load_image

# The HTTP status for each ``ImageError.code`` (and the upload size check's): the page and the API use the same.
HTTP_STATUS = {
    "empty": 400,
    "truncated": 400,
    "not_an_image": 415,
    "unsupported": 415,
    "too_large": 413,
}

EXIF_ORIENTATION = 0x0112

# PNG chunks that describe pixels; the rest (tEXt, zTXt, iTXt, eXIf, tIME, private chunks) are dropped.
PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class UploadRejected(ValidationError):
    """An upload refused before storage; ``code`` is one machine-readable word and ``status`` its HTTP status."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, code=code)
        self.status = HTTP_STATUS.get(code, 400)


@dataclass(frozen=True)
class CleanImage:
    """What is stored for an accepted upload: metadata-free bytes, their suffix, and the upright size."""

    content: bytes
    suffix: str  # ".jpg" or ".png"
    width: int
    height: int
    source_format: str  # what arrived (JPEG, PNG, TIFF...)
    converted: bool  # True when re-encoded as PNG rather than stripped in place


class _NamedBytes(io.BytesIO):
    """Bytes with a name, so ``load_image``'s messages name the uploader's file rather than ``<bytes>``."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


def image_clean(data: bytes, *, name: str, max_pixels: int = DEFAULT_MAX_PIXELS) -> CleanImage:
    """Validate an uploaded image and return a metadata-free copy to store.

    Args:
        data: The uploaded bytes.
        name: The uploader's file name, for messages only.
        max_pixels: Refuse images with more pixels than this (checked from the header, before decoding).

    Raises:
        UploadRejected: Empty, not an image, an unsupported format, truncated, or too many pixels.
    """
    try:
        # load_image decodes strictly even after WeasyPrint (the PDFs) relaxed Pillow's truncation check process-wide.
        rgb = load_image(_NamedBytes(data, name), max_pixels=max_pixels)
    except ImageError as exc:
        raise UploadRejected(exc.message, code=exc.code) from None
    height, width = rgb.shape[:2]
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format or ""
        # A JPEG's EXIF is read with its header; a PNG's getexif() would decode the pixels a second time, so a PNG
        # with an eXIf chunk at all takes the re-encoding path (its pixels are already decoded, upright).
        orientation = img.getexif().get(EXIF_ORIENTATION, 1) if fmt == "JPEG" else 1
        animated = getattr(img, "is_animated", False)
    upright = orientation in (0, 1)
    stripped: bytes | None = None
    if upright and fmt == "JPEG":
        stripped, suffix = _jpeg_strip(data), ".jpg"
    elif fmt == "PNG" and not animated and not _png_has_chunk(data, b"eXIf"):
        stripped, suffix = _png_strip(data), ".png"
    if stripped is not None and _metadata_free(stripped):
        return CleanImage(stripped, suffix, width, height, fmt, converted=False)
    return CleanImage(_png(rgb), ".png", width, height, fmt, converted=True)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=3)  # fast; PNG is lossless at any level
    return buf.getvalue()


def _jpeg_strip(data: bytes) -> bytes | None:
    """The JPEG without APP1..APP15 (except the ICC profile and Adobe's colour-transform marker) and comments.

    The entropy-coded data is copied untouched, so the pixels are bit for bit the same. None when the marker
    structure is not what we expect (the caller then re-encodes).
    """
    if data[:2] != b"\xff\xd8":
        return None
    out = bytearray(b"\xff\xd8")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[pos:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            out += data[pos : pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos : pos + 2 + length]
        payload = segment[4:]
        keep = (
            (marker == 0xE0 and payload.startswith(b"JFIF\0"))  # JFIF header (not JFXX, which holds a thumbnail)
            or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\0"))  # colour, not metadata
            or (marker == 0xEE and payload.startswith(b"Adobe"))  # says how to read CMYK/YCCK channels
            or not (0xE0 <= marker <= 0xEF or marker == 0xFE)  # tables and frame headers
        )
        if keep:
            out += segment
        pos += 2 + length
    return None


def _png_strip(data: bytes) -> bytes | None:
    """The PNG with only the chunks that describe pixels; None when the chunk structure is broken."""
    if not data.startswith(PNG_SIGNATURE):
        return None
    out = bytearray(PNG_SIGNATURE)
    for kind, start, end in _png_chunks(data):
        if kind in PNG_KEEP:
            out += data[start:end]
        if kind == b"IEND":
            return bytes(out)
    return None


def _png_chunks(data: bytes):
    """(type, start, end) of each chunk of a PNG, stopping at a broken one."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if end > len(data):
            return
        yield data[pos + 4 : pos + 8], pos, end
        pos = end


def _png_has_chunk(data: bytes, kind: bytes) -> bool:
    return any(k == kind for k, _, _ in _png_chunks(data))


def _metadata_free(data: bytes | None) -> bool:
    """Double-check a stripped file: Pillow still opens it and finds no EXIF, XMP, text or comment in it."""
    if data is None:
        return False
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format == "PNG":
                # Only chunks of PNG_KEEP can be left (text after the pixel data would not show before a decode).
                return all(kind in PNG_KEEP for kind, _, _ in _png_chunks(data))
            if len(img.getexif()):
                return False
            leftovers = {"exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop", "iptc"} & set(img.info)
            if leftovers or getattr(img, "text", None):
                return False
    except (OSError, SyntaxError, ValueError):
        return False
    return True
