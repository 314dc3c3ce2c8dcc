"""Dropping metadata from a JPEG or PNG file without touching its pixels.

Byte-level, no decoding: the JPEG's entropy-coded data and the PNG's pixel chunks are copied as they are, everything
that can describe a patient or a device (EXIF, XMP, IPTC, comments, text chunks) is left out. ``inference.io.image_clean``
decides when this is used and when the image is re-encoded instead.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

from PIL import Image

# PNG chunks that describe pixels; the rest (tEXt, zTXt, iTXt, eXIf, tIME, private chunks) are dropped.
PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}
)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def jpeg_strip(data: bytes) -> bytes | None:
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


def png_strip(data: bytes) -> bytes | None:
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


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(type, start, end) of each chunk of a PNG, stopping at a broken one."""
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        end = pos + 12 + length
        if end > len(data):
            return
        yield data[pos + 4 : pos + 8], pos, end
        pos = end


def png_has_chunk(data: bytes, kind: bytes) -> bool:
    return any(k == kind for k, _, _ in _png_chunks(data))


def metadata_free(data: bytes | None) -> bool:
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
