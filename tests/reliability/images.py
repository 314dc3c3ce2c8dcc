"""Awkward image files, generated: what phones, microscopes, LIS exports and attackers actually send."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
from PIL import Image

from tests.alllab.smear import smear_rgb

SECRET = "Jane Doe 1961-04-02"  # stands for the patient data a camera or a LIS might write into metadata


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def smear(size=(96, 72)) -> Image.Image:
    return Image.fromarray(smear_rgb(seed=1, size=size, n_white=2))


def exif_with_secret(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x013B] = SECRET  # Artist
    exif[0x010E] = f"Patient {SECRET}"  # ImageDescription
    return exif


def jpeg_with_metadata(orientation: int = 1, size=(96, 72)) -> bytes:
    """A JPEG with EXIF (name, orientation), an XMP packet and a comment, all holding the secret."""
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{SECRET}</dc:creator></x:xmpmeta>'.encode()
    return encode(smear(size), "JPEG", quality=90, exif=exif_with_secret(orientation), comment=SECRET, xmp=xmp)


def png_with_metadata() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Patient", SECRET)
    info.add_itxt("Comment", SECRET, zip=True)
    return encode(smear(), "PNG", pnginfo=info, exif=exif_with_secret(1))


def truncated_jpeg() -> bytes:
    data = encode(smear((320, 240)), "JPEG", quality=95)
    return data[: len(data) // 2]


def png_header_bomb(width: int, height: int, *, mode_bits: int = 1) -> bytes:
    """A real PNG of ``width`` x ``height`` zeros: a few hundred kB that would decode to gigabytes."""
    row = b"\0" * (1 + (width * mode_bits + 7) // 8)  # filter byte + packed pixels
    comp = zlib.compressobj(9)
    idat = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    colour_type = 0  # greyscale

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, mode_bits, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def tiff_header_only(width: int, height: int) -> bytes:
    """A small RGB TIFF whose header is patched to claim ``width`` x ``height``: judged by its header alone."""
    data = bytearray(encode(Image.new("RGB", (8, 8)), "TIFF"))
    assert data[:4] == b"II*\0"
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, kind = struct.unpack_from("<HH", data, entry)
        if tag in (256, 257):  # ImageWidth, ImageLength
            fmt = "<H" if kind == 3 else "<I"
            struct.pack_into(fmt, data, entry + 8, width if tag == 256 else height)
    return bytes(data)


def tiff16_grey() -> bytes:
    grey = cv2.cvtColor(smear_rgb(seed=2, size=(96, 72)), cv2.COLOR_RGB2GRAY).astype(np.uint16) * 16  # 12-bit data
    return encode(Image.fromarray(grey), "TIFF")


def tiff16_rgb() -> bytes:
    rgb16 = smear_rgb(seed=2, size=(96, 72)).astype(np.uint16) * 257
    ok, buf = cv2.imencode(".tiff", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def greyscale_png() -> bytes:
    return encode(smear().convert("L"), "PNG")


def cmyk_jpeg() -> bytes:
    return encode(smear().convert("CMYK"), "JPEG", quality=92)


def rgba_png() -> bytes:
    img = smear().convert("RGBA")
    img.putalpha(200)
    return encode(img, "PNG")


def blank_png(colour=(236, 214, 222), size=(160, 120)) -> bytes:
    return encode(Image.new("RGB", size, colour), "PNG")
