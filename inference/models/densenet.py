"""DenseNet-121 (Huang et al., 2017), written out so torchvision stays out of the runtime requirements.

Baseline only, trained from scratch like the hybrid VGG. Dense blocks [6, 12, 24, 16], growth rate 32,
bottleneck 4x, compression 0.5, one-logit head (about 7 M parameters).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .base import CellClassifier


@dataclass(frozen=True)
class DenseNetConfig:
    blocks: tuple[int, ...] = (6, 12, 24, 16)
    growth: int = 32
    init_features: int = 64
    dropout: float = 0.5

    def to_dict(self) -> dict:
        d = asdict(self)
        d["blocks"] = list(self.blocks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> DenseNetConfig:
        return cls(**{**d, "blocks": tuple(d["blocks"])})


class DenseLayer(nn.Module):
    def __init__(self, c_in: int, growth: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(c_in),
            nn.ReLU(inplace=True),
            nn.Conv2d(c_in, 4 * growth, 1, bias=False),
            nn.BatchNorm2d(4 * growth),
            nn.ReLU(inplace=True),
            nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)  # (B, C + growth, H, W)


class DenseNet(CellClassifier):
    """DenseNet-BC with a one-logit head."""

    def __init__(self, cfg: DenseNetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c = cfg.init_features
        self.stem = nn.Sequential(
            nn.Conv2d(3, c, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        layers: list[nn.Module] = []
        for i, n in enumerate(cfg.blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, cfg.growth))
                c += cfg.growth
            if i < len(cfg.blocks) - 1:  # transition: compress channels by half, halve resolution
                layers += [
                    nn.BatchNorm2d(c),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(c, c // 2, 1, bias=False),
                    nn.AvgPool2d(2),
                ]
                c //= 2
        layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
        self.blocks = nn.Sequential(*layers)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(c, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))  # (B, 1024, H/32, W/32)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(feats.mean(dim=(2, 3)))).squeeze(1)  # (B,)


def densenet121(**overrides: Any) -> DenseNet:
    return DenseNet(DenseNetConfig(**overrides))
