"""``inference.io.load_image``: every kind of bad or odd input gives RGB uint8 or a clear ImageError."""

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from inference.io import ImageError, load_image


def _encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def _gradient(h: int = 20, w: int = 30) -> np.ndarray:
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    rgb[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    rgb[..., 2] = 128
    return rgb


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (8-bit RGB) with one tiny compressed row."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


def test_it_reads_rgb_jpeg_from_path_bytes_and_file(tmp_path):
    data = _encode(Image.fromarray(_gradient()), "PNG")
    path = tmp_path / "a.png"
    path.write_bytes(data)
    for source in (path, str(path), data, io.BytesIO(data)):
        rgb = load_image(source)
        assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
        np.testing.assert_array_equal(rgb, _gradient())


def test_it_refuses_zero_bytes(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(ImageError) as err:
        load_image(tmp_path / "empty.jpg")
    assert err.value.code == "empty" and "empty" in str(err.value)


def test_it_refuses_text_named_jpg(tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not a picture\n")
    with pytest.raises(ImageError) as err:
        load_image(tmp_path / "notes.jpg")
    assert err.value.code == "not_an_image"


def test_it_refuses_a_missing_file(tmp_path):
    with pytest.raises(ImageError) as err:
        load_image(tmp_path / "nope.png")
    assert err.value.code == "not_an_image" and "no such file" in str(err.value)


def test_it_refuses_a_truncated_jpeg():
    data = _encode(Image.fromarray(_gradient(200, 300)), "JPEG", quality=95)
    with pytest.raises(ImageError) as err:
        load_image(data[: len(data) // 2])
    assert err.value.code == "truncated"


def test_it_refuses_a_decompression_bomb_before_decoding():
    data = _png_header(100_000, 100_000)  # 10 gigapixels claimed in a few bytes
    assert len(data) < 200
    with pytest.raises(ImageError) as err:
        load_image(data)
    assert err.value.code == "too_large" and "MP" in str(err.value)


def test_it_applies_a_custom_pixel_limit():
    data = _encode(Image.fromarray(_gradient(100, 100)), "PNG")
    with pytest.raises(ImageError) as err:
        load_image(data, max_pixels=9_999)
    assert err.value.code == "too_large"
    assert load_image(data, max_pixels=10_000).shape == (100, 100, 3)


def test_it_converts_greyscale_to_rgb():
    grey = np.arange(600, dtype=np.uint8).reshape(20, 30)
    rgb = load_image(_encode(Image.fromarray(grey, mode="L"), "PNG"))
    assert rgb.shape == (20, 30, 3)
    np.testing.assert_array_equal(rgb[..., 0], grey)
    np.testing.assert_array_equal(rgb[..., 2], grey)


def test_it_converts_16_bit_greyscale_png():
    grey16 = (np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).astype(np.uint16)  # up to 59900
    ok, buf = cv2.imencode(".png", grey16)
    assert ok
    rgb = load_image(buf.tobytes())
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 30, 3)
    # Scaled by the 16-bit range (59900 / 65535 * 255 = 233), not truncated to the low byte.
    assert rgb[0, 0, 0] == 0 and rgb.max() == 233


def test_it_stretches_12_bit_data_stored_in_16_bits():
    grey12 = np.linspace(0, 4095, 600).astype(np.uint16).reshape(20, 30)
    ok, buf = cv2.imencode(".png", grey12)
    assert ok
    rgb = load_image(buf.tobytes())
    assert rgb.max() == 255 and rgb.min() == 0


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_it_converts_16_bit_colour(ext):
    rgb8 = _gradient()
    bgr16 = cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257
    ok, buf = cv2.imencode(ext, bgr16)
    assert ok
    rgb = load_image(buf.tobytes())
    assert rgb.dtype == np.uint8 and rgb.shape == (20, 30, 3)
    assert np.abs(rgb.astype(int) - rgb8.astype(int)).max() <= 1


def test_it_converts_cmyk_jpeg():
    cmyk = Image.fromarray(_gradient()).convert("CMYK")
    rgb = load_image(_encode(cmyk, "JPEG", quality=95))
    assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - _gradient().astype(int)).mean() < 12


def test_it_composites_rgba_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:5, :, 3] = 255  # top half opaque red-ish, bottom half transparent
    rgb = load_image(_encode(Image.fromarray(rgba, mode="RGBA"), "PNG"))
    assert tuple(rgb[0, 0]) == (200, 0, 0)
    assert tuple(rgb[9, 9]) == (255, 255, 255)


def test_it_converts_palette_png():
    pal = Image.fromarray(_gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    rgb = load_image(_encode(pal, "PNG"))
    assert rgb.shape == (20, 30, 3)


def test_it_applies_exif_orientation():
    img = Image.fromarray(_gradient(20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    rgb = load_image(_encode(img, "JPEG", exif=exif, quality=95))
    assert rgb.shape == (30, 20, 3)


def test_it_refuses_a_directory(tmp_path):
    with pytest.raises(ImageError):
        load_image(tmp_path)


def test_it_rejects_wrong_source_types():
    with pytest.raises(TypeError):
        load_image(12345)  # type: ignore[arg-type]


def test_every_error_is_a_value_error_with_a_code():
    with pytest.raises(ValueError) as err:
        load_image(b"GIF89a-garbage")
    assert isinstance(err.value, ImageError) and err.value.code in {"not_an_image", "truncated"}


def test_it_refuses_formats_a_smear_does_not_come_in():
    ico = _encode(Image.fromarray(_gradient(32, 32)), "ICO")
    with pytest.raises(ImageError) as err:
        load_image(ico)
    assert err.value.code == "unsupported" and "ICO" in str(err.value)


def test_it_refuses_a_truncated_jpeg_even_when_another_library_relaxed_pillow(monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # what importing WeasyPrint does
    data = _encode(Image.fromarray(_gradient(200, 300)), "JPEG", quality=95)
    with pytest.raises(ImageError) as err:
        load_image(data[: len(data) // 2])
    assert err.value.code == "truncated"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is put back
