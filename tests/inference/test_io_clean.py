"""``inference.io.image_clean``: the stored copy of an upload, metadata-free, read back as the same pixels."""

import io

import numpy as np
import pytest
from PIL import Image

from inference.io import ImageError, image_clean, load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _smear() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x013B] = "Jane Doe"  # Artist
    return exif


def test_it_strips_a_jpegs_exif_and_comment_but_keeps_its_pixels():
    data = _encode(_smear(), "JPEG", quality=90, exif=_exif(1), comment="Jane Doe")
    clean = image_clean(data, name="s.jpg")
    assert (clean.suffix, clean.converted, clean.source_format) == (".jpg", False, "JPEG")
    assert b"Jane Doe" not in clean.content
    np.testing.assert_array_equal(load_image(clean.content), load_image(data))


def test_it_stores_a_rotated_photo_upright_as_png():
    clean = image_clean(_encode(_smear(), "JPEG", exif=_exif(6)), name="phone.jpg")
    assert (clean.suffix, clean.converted, (clean.width, clean.height)) == (".png", True, (24, 32))
    assert b"Jane Doe" not in clean.content


@pytest.mark.parametrize("fmt", ["WEBP", "BMP", "TIFF"])
def test_it_converts_other_formats_to_a_png_of_the_same_pixels(fmt):
    data = _encode(_smear(), fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    clean = image_clean(data, name=f"s.{fmt.lower()}")
    assert (clean.suffix, clean.converted, clean.source_format) == (".png", True, fmt)
    with Image.open(io.BytesIO(clean.content)) as img:
        assert img.format == "PNG"
    np.testing.assert_array_equal(load_image(clean.content), np.asarray(_smear()))


def test_it_refuses_what_load_image_refuses_naming_the_file():
    with pytest.raises(ImageError, match="notes.jpg") as refused:
        image_clean(b"not an image at all, just text" * 4, name="notes.jpg")
    assert refused.value.code == "not_an_image"
