"""Hybrid VGG: VGG-style conv blocks with residual skips and attention, for one white-cell crop.

The seed paper's network (VGG blocks + residual skip connections + attention modules, dropout 0.5,
binary head), sized for CPUs: four blocks of two 3x3 conv + BN + ReLU, each wrapped by a 1x1 residual
projection, then squeeze-excitation (channel) and a CBAM-style spatial attention map, then 2x2 max-pool.
``residual`` and ``attention`` switch off for the ablation rows (plain VGG, +residual, +attention, full),
so all four variants are this one file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from .base import CellClassifier


@dataclass(frozen=True)
class HybridVGGConfig:
    """Everything needed to rebuild the network; stored inside each checkpoint."""

    widths: tuple[int, ...] = (16, 32, 64, 128)  # output channels of each block
    convs_per_block: int = 2
    residual: bool = True
    attention: bool = True
    se_reduction: int = 4
    spatial_kernel: int = 7
    dropout: float = 0.5
    in_channels: int = 3

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> HybridVGGConfig:
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        return cls(**d)


class SqueezeExcitation(nn.Module):
    """Channel attention: reweight channels by a gate computed from their global average."""

    def __init__(self, channels: int, reduction: int) -> None:
        super().__init__()
        hidden = max(4, channels // reduction)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = x.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
        g = torch.sigmoid(self.fc2(torch.relu(self.fc1(g))))
        return x * g


class SpatialAttention(nn.Module):
    """Spatial attention (CBAM): a (B, 1, H, W) gate from channel-mean and channel-max maps."""

    def __init__(self, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)  # (B, 2, H, W)
        gate = torch.sigmoid(self.conv(pooled))  # (B, 1, H, W)
        return x * gate


class HybridBlock(nn.Module):
    """``convs`` x (3x3 conv + BN + ReLU), optional residual projection, optional SE + spatial attention, max-pool."""

    def __init__(self, c_in: int, c_out: int, *, convs: int, residual: bool, attention: bool, cfg: HybridVGGConfig):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [nn.Conv2d(c_in if i == 0 else c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out)]
            if i < convs - 1 or not residual:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        # 1x1 projection so the skip matches the widened channel count.
        self.skip = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out)) if residual else None
        self.se = SqueezeExcitation(c_out, cfg.se_reduction) if attention else None
        self.spatial = SpatialAttention(cfg.spatial_kernel) if attention else None
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)  # (B, C_out, H, W)
        if self.skip is not None:
            y = torch.relu(y + self.skip(x))
        if self.se is not None:
            y = self.se(y)
        if self.spatial is not None:
            y = self.spatial(y)
        return self.pool(y)  # (B, C_out, H/2, W/2)


class HybridVGG(CellClassifier):
    """Binary leukocyte classifier: one logit, positive = leukemic blast."""

    def __init__(self, cfg: HybridVGGConfig) -> None:
        super().__init__()
        self.cfg = cfg
        blocks = []
        c_in = cfg.in_channels
        for width in cfg.widths:
            blocks.append(
                HybridBlock(
                    c_in, width, convs=cfg.convs_per_block, residual=cfg.residual, attention=cfg.attention, cfg=cfg
                )
            )
            c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(c_in, 1)
        self.num_features = c_in

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised crop -> (B, C, H/16, W/16) feature map."""
        return self.blocks(x)

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) -> (B,) logit."""
        pooled = feats.mean(dim=(2, 3))  # (B, C)
        return self.head(self.dropout(pooled)).squeeze(1)  # (B,)

    def cam_features(self, x: torch.Tensor) -> torch.Tensor:
        """Grad-CAM looks at the second-to-last block (12x12 at 96 px input): the last is too coarse (6x6)."""
        return self.blocks[:-1](x)

    def cam_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.blocks[-1](feats))


def hybrid_vgg(*, residual: bool = True, attention: bool = True, **overrides: Any) -> HybridVGG:
    """Build a hybrid VGG; ``residual=False, attention=False`` is the plain-VGG ablation."""
    return HybridVGG(HybridVGGConfig(residual=residual, attention=attention, **overrides))
