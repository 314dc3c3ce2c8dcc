"""Read and validate smear images: whatever arrives, either an (H, W, 3) uint8 RGB array or a clear ``ImageError``.

Uploads come from microscopes, phones and LIS exports, so the reader has to expect greyscale, 16-bit, CMYK,
RGBA and palette images, EXIF-rotated phone pictures, truncated transfers, files that are not images at all,
and decompression bombs. Everything is decoded with Pillow (never OpenCV, whose failures are silent ``None``
or C++ asserts); the pixel count is checked from the header, before any pixel is decoded.

``image_clean`` makes the copy of an upload that is stored: the same checks, and no metadata (EXIF, XMP, IPTC and
comments can hold patient names, dates and device serials).

- A JPEG or PNG that needs no rotation keeps its pixels bit for bit: only metadata segments or chunks are dropped.
- Anything else (16-bit TIFF, BMP, WEBP, an EXIF-rotated photo, a phone's MPO) is stored as a lossless PNG of the
  upright 8-bit RGB pixels the worker would analyse anyway.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from inference.metadata import jpeg_strip, metadata_free, png_has_chunk, png_strip

DEFAULT_MAX_PIXELS = 60_000_000  # a 60 MP field is far above any microscope camera we know of

# Formats a smear plausibly arrives in; anything else Pillow can open (EPS, ICO, PDF...) is refused.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "BMP", "WEBP", "MPO", "GIF", "PPM"})
EXIF_ORIENTATION = 0x0112


class ImageError(ValueError):
    """An image that cannot be analysed; ``code`` says why in one machine-readable word."""

    code = "unreadable"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class EmptyImageError(ImageError):
    """Zero bytes."""

    code = "empty"


class NotAnImageError(ImageError):
    """The bytes are not an image format we can identify."""

    code = "not_an_image"


class TruncatedImageError(ImageError):
    """The header is fine but the pixel data stops early or is corrupt."""

    code = "truncated"


class ImageTooLargeError(ImageError):
    """More pixels than ``max_pixels``: refused before decoding (decompression bomb guard)."""

    code = "too_large"


class UnsupportedImageError(ImageError):
    """An image, but in a format or mode we do not analyse."""

    code = "unsupported"


Source = str | Path | bytes | bytearray | BinaryIO


def _read_bytes(source: Source) -> tuple[bytes, str]:
    """Return the raw bytes and a short name for messages."""
    if isinstance(source, bytes | bytearray):
        return bytes(source), "<bytes>"
    if isinstance(source, str | Path):
        path = Path(source)
        try:
            return path.read_bytes(), str(path)
        except FileNotFoundError:
            raise NotAnImageError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise NotAnImageError(f"{path}: is a directory, not an image") from None
        except OSError as exc:
            raise NotAnImageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if hasattr(source, "read"):
        data = source.read()
        if not isinstance(data, bytes | bytearray):
            raise NotAnImageError("file object must be opened in binary mode")
        return bytes(data), getattr(source, "name", "<file>")
    raise TypeError(f"load_image takes a path, bytes or a binary file object, not {type(source).__name__}")


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale a 16-bit, 32-bit integer or float array to uint8 by its nominal range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        finite = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=1.0, neginf=0.0)
        # Float images are 0..1 by convention; some tools write 0..255 or 0..65535.
        top = finite.max(initial=0.0)
        scale = 1.0 if top <= 1.0 else (255.0 if top <= 255.0 else 65535.0)
        return np.clip(finite / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        # Many 16-bit microscope images use only 10 or 12 bits; stretch by the real maximum rather than 65535
        # so they do not come out nearly black, but never stretch an 8-bit-range image.
        top = int(arr.max(initial=0))
        full = 255 if top <= 255 else (4095 if top <= 4095 else info.max)
        return np.clip(arr.astype(np.float64) * (255.0 / full) + 0.5, 0, 255).astype(np.uint8)
    raise UnsupportedImageError(f"pixel type {arr.dtype} is not supported")


def _to_rgb(img: Image.Image, name: str) -> np.ndarray:
    """Convert any Pillow mode to (H, W, 3) uint8 RGB; alpha is composited on white (a slide's background)."""
    mode = img.mode
    if mode in ("RGB",):
        return np.asarray(img, dtype=np.uint8).copy()
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8).copy()
    if mode in ("CMYK", "YCbCr", "LAB", "HSV", "P", "L", "1", "RGBX", "RGBa"):
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _to_uint8(np.asarray(img))
        return np.repeat(grey[:, :, None], 3, axis=2)
    raise UnsupportedImageError(f"{name}: pixel mode {mode} is not supported")


def _rgb48_tiff(data: bytes) -> np.ndarray | None:
    """Pillow cannot decode 16-bit-per-channel colour TIFF/PNG; OpenCV can, and is only used for that case."""
    import cv2  # local: only this rare path needs it

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
    if arr is None or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        return None
    rgb = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGB if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return _to_uint8(rgb)


_STRICT_LOCK = threading.Lock()


@contextmanager
def strict_decoding() -> Iterator[None]:
    """Pillow refuses truncated data inside this block, whatever the process-wide flag says.

    Some libraries (WeasyPrint, for one) set ``ImageFile.LOAD_TRUNCATED_IMAGES = True`` for the whole process on
    import; Pillow would then pad a half-transferred smear with grey and we would analyse it.
    """
    with _STRICT_LOCK:
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def load_image(source: Source, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Read an image into an (H, W, 3) uint8 RGB array, upright as its EXIF orientation says.

    Args:
        source: A path, the file's bytes, or a binary file object.
        max_pixels: Refuse images with more pixels than this, judged from the header before decoding.

    Returns:
        The image as (H, W, 3) uint8 RGB.

    Raises:
        ImageError: A subclass whose ``code`` is ``"empty"``, ``"not_an_image"``, ``"truncated"``, ``"too_large"``
            or ``"unsupported"``, with a readable message.
    """
    data, name = _read_bytes(source)
    if not data:
        raise EmptyImageError(f"{name}: file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Our own limit applies; Pillow's bomb check must not fire (or warn) first with another number.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise NotAnImageError(f"{name}: not an image file (format not recognised)") from None
    except Image.DecompressionBombError:
        # Pillow's own guard (twice Image.MAX_IMAGE_PIXELS) fired on the header: far above our limit too.
        raise ImageTooLargeError(
            f"{name}: header claims a decompression-bomb-sized image (limit {max_pixels / 1e6:.1f} MP)"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise NotAnImageError(f"{name}: not a readable image ({exc})") from None

    with img:
        if img.format not in SUPPORTED_FORMATS:
            raise UnsupportedImageError(f"{name}: format {img.format} is not supported (use JPEG, PNG or TIFF)")
        width, height = img.size
        if width <= 0 or height <= 0:
            raise NotAnImageError(f"{name}: image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageTooLargeError(
                f"{name}: {width}x{height} = {width * height / 1e6:.1f} MP exceeds the limit of {max_pixels / 1e6:.1f} MP"
            )
        try:
            with strict_decoding():
                img.load()
            upright = ImageOps.exif_transpose(img) or img
            if upright.mode in ("RGB", "RGBA") or not _is_deep_colour(upright):
                rgb = _to_rgb(upright, name)
            else:
                deep = _rgb48_tiff(data)
                if deep is None:
                    raise UnsupportedImageError(f"{name}: pixel mode {upright.mode} is not supported")
                rgb = deep
        except ImageError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise TruncatedImageError(f"{name}: image data is truncated or corrupt ({exc})") from None
        except MemoryError:
            raise ImageTooLargeError(f"{name}: not enough memory to decode {width}x{height}") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise UnsupportedImageError(f"{name}: decoded to an unexpected shape {rgb.shape}")
    return np.ascontiguousarray(rgb)


def _is_deep_colour(img: Image.Image) -> bool:
    """True for the 48/64-bit colour images Pillow opens in a mode it cannot convert to RGB."""
    return img.mode not in ("1", "L", "P", "LA", "PA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "RGBX", "RGBa") and (
        not img.mode.startswith("I;16")
    )


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


def image_clean(data: bytes, *, name: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> CleanImage:
    """Validate an image as ``load_image`` does and return a metadata-free copy to store.

    Args:
        data: The file's bytes.
        name: The file's name, for messages only.
        max_pixels: Refuse images with more pixels than this (checked from the header, before decoding).

    Raises:
        ImageError: Empty, not an image, an unsupported format, truncated, or too many pixels (see ``load_image``).
    """
    rgb = load_image(_NamedBytes(data, name), max_pixels=max_pixels)
    height, width = rgb.shape[:2]
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format or ""
        # A JPEG's EXIF is read with its header; a PNG's getexif() would decode the pixels a second time, so a PNG
        # with an eXIf chunk at all takes the re-encoding path (its pixels are already decoded, upright).
        orientation = img.getexif().get(EXIF_ORIENTATION, 1) if fmt == "JPEG" else 1
        animated = getattr(img, "is_animated", False)
    stripped: bytes | None = None
    suffix = ".png"
    if orientation in (0, 1) and fmt == "JPEG":
        stripped, suffix = jpeg_strip(data), ".jpg"
    elif fmt == "PNG" and not animated and not png_has_chunk(data, b"eXIf"):
        stripped = png_strip(data)
    if stripped is not None and metadata_free(stripped):
        return CleanImage(stripped, suffix, width, height, fmt, converted=False)
    return CleanImage(_png(rgb), ".png", width, height, fmt, converted=True)


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", compress_level=3)  # fast; PNG is lossless at any level
    return buf.getvalue()
