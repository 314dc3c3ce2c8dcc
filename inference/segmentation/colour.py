"""Colour preprocessing: RGB to HSV, per-image intensity and stain normalisation, pixel features.

The seed paper converts to HSV and normalises intensity before clustering. HSV's hue is an angle and is
meaningless where saturation is low (the slide background), so each pixel becomes the point
``(S cos H, S sin H, V)`` of the HSV cone instead: nearby colours stay nearby, grey pixels sit at the axis.
Normalisation is per image and robust: value is divided by the background's brightness (lighting), chroma by
a high percentile of saturation (stain strength), so the same cluster priors fit pale and strong stains.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

NUCLEUS_HUE_DEG = 265.0  # May-Grunwald-Giemsa / Wright nuclei: blue-violet
RBC_HUE_DEG = 355.0  # red cells: pink-red


@dataclass(frozen=True)
class PixelFeatures:
    """Per-pixel features of one image plus the normalisation used, for quality checks."""

    features: np.ndarray  # (H, W, 3) float32: chroma x, chroma y, normalised value
    hue_deg: np.ndarray  # (H, W) float32 in [0, 360)
    saturation: np.ndarray  # (H, W) float32 in [0, 1]
    value: np.ndarray  # (H, W) float32 in [0, 1], not normalised
    background_value: float  # brightness of the slide background, 0..1
    stain_scale: float  # the saturation percentile chroma was divided by


def hsv_float(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB to float32 HSV with H in degrees [0, 360), S and V in [0, 1]."""
    return cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2HSV)


def pixel_features(rgb: np.ndarray) -> PixelFeatures:
    """Normalised HSV-cone features of every pixel."""
    hsv = hsv_float(rgb)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    # Background is the brightest large population on a smear; the 95th percentile ignores specular glints.
    background_value = float(max(np.percentile(val, 95), 1e-3))
    stain_scale = float(max(np.percentile(sat, 97), 0.05))
    rad = np.deg2rad(hue)
    chroma = sat / stain_scale
    features = np.empty(rgb.shape[:2] + (3,), np.float32)
    features[..., 0] = chroma * np.cos(rad)
    features[..., 1] = chroma * np.sin(rad)
    features[..., 2] = val / background_value
    return PixelFeatures(features, hue, sat, val, background_value, stain_scale)


def hue_axis(deg: float) -> np.ndarray:
    """Unit vector of a hue in the chroma plane."""
    r = np.deg2rad(deg)
    return np.array([np.cos(r), np.sin(r)], np.float32)


def nucleus_score(features: np.ndarray) -> np.ndarray:
    """How nucleus-like a pixel's colour is: chroma along the nucleus hue, minus brightness."""
    return features[..., :2] @ hue_axis(NUCLEUS_HUE_DEG) - 0.5 * features[..., 2]


def centre_hue_deg(centre: np.ndarray) -> float:
    """Hue angle of a cluster centre in degrees [0, 360)."""
    return float(np.rad2deg(np.arctan2(centre[1], centre[0])) % 360.0)


def hue_distance_deg(a: float, b: float) -> float:
    """Smallest angle between two hues."""
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)
