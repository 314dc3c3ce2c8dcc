"""Image degradations another lab's camera and microscope apply, for training a model that transfers.

Each function takes an (S, S, 3) uint8 RGB cell crop that is already scale-normalised (a red cell is
``S / cell_scale`` pixels across) and a seeded RNG, and returns a crop of the same shape and dtype. They
imitate, in the order a real image meets them: stain variation (HED-space jitter), defocus, uneven
illumination, a coarser camera (downscale, JPEG at that resolution, then the upscale that scale
normalisation does). numpy and OpenCV only.
"""

from __future__ import annotations

import cv2
import numpy as np

# Ruifrok & Johnston's haematoxylin / eosin / DAB optical densities (as in skimage.color.rgb_from_hed).
RGB_FROM_HED = np.array([[0.65, 0.70, 0.29], [0.07, 0.99, 0.11], [0.27, 0.57, 0.78]], np.float64)
HED_FROM_RGB = np.linalg.inv(RGB_FROM_HED)
_LOG_ADJUST = np.log(1e-6)


def hed_jitter(rgb: np.ndarray, rng: np.random.Generator, *, sigma: float, bias: float) -> np.ndarray:
    """Scale each HED stain channel by U(1-sigma, 1+sigma) and shift it by U(-bias, bias) (Tellez et al. 2018)."""
    x = np.maximum(rgb.astype(np.float64) / 255.0, 1e-6)
    od = np.log(x) / _LOG_ADJUST  # optical density, 0 (white) .. 1
    hed = od.reshape(-1, 3) @ HED_FROM_RGB
    hed = hed * rng.uniform(1 - sigma, 1 + sigma, 3) + rng.uniform(-bias, bias, 3)
    od = np.maximum(hed @ RGB_FROM_HED, 0.0)
    out = np.exp(od * _LOG_ADJUST) * 255.0
    return np.clip(out, 0, 255).reshape(rgb.shape).astype(np.uint8)


def defocus(rgb: np.ndarray, radius_px: float) -> np.ndarray:
    """Blur with a disk (the point-spread function of a defocused lens), not a Gaussian."""
    r = max(1, int(round(radius_px)))
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    cv2.circle(k, (r, r), r, 1.0, -1)
    return cv2.filter2D(rgb, -1, k / k.sum(), borderType=cv2.BORDER_REFLECT_101)


def uneven_illumination(rgb: np.ndarray, rng: np.random.Generator, *, strength: float) -> np.ndarray:
    """Multiply by a smooth field: a linear ramp in a random direction plus an off-centre vignette."""
    s0, s1 = rgb.shape[:2]
    yy, xx = np.mgrid[0:s0, 0:s1].astype(np.float32)
    yy, xx = yy / max(1, s0 - 1) - 0.5, xx / max(1, s1 - 1) - 0.5
    theta = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(theta) * xx + np.sin(theta) * yy  # -0.7 .. 0.7
    cx, cy = rng.uniform(-0.5, 0.5, 2)
    vignette = -((xx - cx) ** 2 + (yy - cy) ** 2)
    tilt = rng.uniform(0.5, 1.0) * rng.choice([-1.0, 1.0])  # never a near-flat draw: the point is unevenness
    field = 1 + strength * (tilt * ramp + rng.uniform(0, 1) * vignette)
    return np.clip(rgb.astype(np.float32) * field[..., None], 0, 255).astype(np.uint8)


def low_resolution(
    rgb: np.ndarray, rng: np.random.Generator, *, rbc_px: float, rbc_px_now: float, jpeg_quality: tuple[int, int]
) -> np.ndarray:
    """Re-photograph at a coarser scale (a red cell ``rbc_px`` across), JPEG it there, and upscale back."""
    s0, s1 = rgb.shape[:2]
    f = min(1.0, rbc_px / rbc_px_now)
    small = cv2.resize(rgb, (max(4, round(s1 * f)), max(4, round(s0 * f))), interpolation=cv2.INTER_AREA)
    small = jpeg(small, int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1)))
    return cv2.resize(small, (s1, s0), interpolation=cv2.INTER_LINEAR)  # what crop_cell's upscale does


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode as JPEG at ``quality`` (1-100)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 image
        return rgb
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    assert decoded is not None  # the JPEG OpenCV has just written
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)
