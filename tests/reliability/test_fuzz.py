"""Fuzzing the doors bytes come in by: the image loader, the upload intake, and segmentation on whatever decodes.

Hypothesis sends arbitrary bytes, real images with bytes flipped, cut or inserted, and arbitrary small pixel arrays.
The only exception allowed out of the loader is ``ImageError`` (``UploadRejected`` out of the intake), and what comes
out is always an (H, W, 3) uint8 array; segmentation of any such array returns a ``Segmentation``. Bounded: 200
examples per loader test and 40 for segmentation, no deadline (the machine is shared), a fixed seed so a failure reproduces.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from alllab.analysis.intake import HTTP_STATUS
from inference.io import ImageError, image_clean, load_image
from inference.segment import find_cells
from inference.types import Segmentation
from tests.alllab.smear import smear_rgb

# Pillow warns while reading a damaged TIFF tag block it then refuses or reads around: expected here.
pytestmark = pytest.mark.filterwarnings("ignore:Truncated File Read:UserWarning")
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _seed_images() -> list[bytes]:
    rgb = smear_rgb(seed=3, size=(48, 36), n_white=1)
    out = []
    for fmt, params in [("PNG", {}), ("JPEG", {"quality": 80}), ("TIFF", {}), ("BMP", {}), ("GIF", {}), ("WEBP", {})]:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, **params)
        out.append(buf.getvalue())
    return out


SEEDS = _seed_images()


@st.composite
def damaged_images(draw) -> bytes:
    """A real image in one of six formats, then some bytes overwritten, the tail cut, or junk inserted."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "cut":
            data = data[: max(pos, 1)]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


def _check_loader(data: bytes) -> None:
    try:
        rgb = load_image(data, max_pixels=4_000_000)
    except ImageError as exc:
        assert exc.code in {"empty", "not_an_image", "truncated", "too_large", "unsupported"} and str(exc)
        return
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.shape[0] * rgb.shape[1] > 0


@FUZZ
@seed(20261129)
@given(st.binary(max_size=2048))
def test_it_loads_or_refuses_arbitrary_bytes(data):
    _check_loader(data)


@FUZZ
@seed(20261129)
@given(damaged_images())
def test_it_loads_or_refuses_damaged_images(data):
    _check_loader(data)


@FUZZ
@seed(20261129)
@given(damaged_images())
def test_it_cleans_or_rejects_damaged_uploads(data):
    try:
        clean = image_clean(data, name="fuzz.bin", max_pixels=4_000_000)
    except ImageError as exc:  # slide_create answers it as UploadRejected with HTTP_STATUS[exc.code]
        assert HTTP_STATUS.get(exc.code) in (400, 413, 415) and exc.message
        return
    assert load_image(clean.content).shape[:2] == (clean.height, clean.width)  # what is stored reads back


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@seed(20261129)
@given(
    arrays(
        np.uint8,
        st.tuples(st.integers(1, 48), st.integers(1, 48), st.just(3)),
        elements=st.integers(0, 255),
    )
)
def test_it_segments_any_small_rgb_array_without_crashing(rgb):
    seg = find_cells(rgb)
    assert isinstance(seg, Segmentation) and seg.width == rgb.shape[1] and seg.height == rgb.shape[0]


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 400, 3), (400, 1, 3), (3, 3, 3)])
def test_it_segments_degenerate_shapes(shape):
    assert isinstance(find_cells(np.zeros(shape, np.uint8)), Segmentation)
