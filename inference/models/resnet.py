"""ResNet-50 (He et al., 2016), written out so torchvision stays out of the runtime requirements.

Baseline only: the seed paper compares against ResNet-50 "trained the same way"; we train it from scratch
like the hybrid VGG (no ImageNet weights: nothing may be downloaded here). Bottleneck blocks [3, 4, 6, 3],
one-logit head, ``width`` scales every channel count (1.0 = the standard 23.5 M-parameter network).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .base import CellClassifier


@dataclass(frozen=True)
class ResNetConfig:
    layers: tuple[int, ...] = (3, 4, 6, 3)
    width: float = 1.0
    dropout: float = 0.5

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = list(self.layers)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ResNetConfig:
        return cls(**{**d, "layers": tuple(d["layers"])})


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, c_in: int, mid: int, stride: int) -> None:
        super().__init__()
        c_out = mid * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, mid, 1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.skip = (
            nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
            if stride != 1 or c_in != c_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class ResNet(CellClassifier):
    """ResNet with bottlenecks and a one-logit head."""

    def __init__(self, cfg: ResNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        base = max(8, int(64 * cfg.width))
        self.stem = nn.Sequential(
            nn.Conv2d(3, base, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(base),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, c_in = [], base
        for i, n in enumerate(cfg.layers):
            mid = base * 2**i
            for j in range(n):
                stages.append(Bottleneck(c_in, mid, stride=2 if (j == 0 and i > 0) else 1))
                c_in = mid * Bottleneck.expansion
        self.blocks = nn.Sequential(*stages)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(c_in, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))  # (B, 2048*width, H/32, W/32)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(feats.mean(dim=(2, 3)))).squeeze(1)  # (B,)


def resnet50(**overrides: Any) -> ResNet:
    return ResNet(ResNetConfig(**overrides))
