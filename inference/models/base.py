"""What the predictor needs from every architecture, so it never asks which one it holds.

Each model is a ``CellClassifier``: ``forward_features`` / ``forward_head`` / ``forward`` (one logit,
positive = blast), plus three hooks with sensible defaults that an architecture overrides where it knows
better: where Grad-CAM looks (``cam_features`` / ``cam_head``), the pooled feature vector the domain check
measures (``pooled_features``), and a copy with BatchNorm folded into the convolutions (``fused``).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


class CellClassifier(nn.Module):
    """Base of every architecture in ``inference.models``."""

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - each model defines it
        raise NotImplementedError

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:  # pragma: no cover - each model defines it
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def cam_features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, C, h, w) map Grad-CAM weights; by default the last feature map."""
        return self.forward_features(x)

    def cam_head(self, feats: torch.Tensor) -> torch.Tensor:
        """From ``cam_features``' output to the (B,) logit."""
        return self.forward_head(feats)

    def pooled_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C): the globally pooled features the head reads (what the domain check models)."""
        return self.forward_features(x).mean(dim=(2, 3))

    def fused(self) -> CellClassifier:
        """An eval-mode copy with every Conv2d -> BatchNorm2d pair inside an ``nn.Sequential`` folded.

        Same outputs to ~1e-5; about half the CPU time of the hybrid VGG. Architectures whose BN does not
        follow a conv in a Sequential (pre-activation DenseNet, EfficientNet's named layers) come back unfused.
        """
        model = copy.deepcopy(self).eval()
        for module in list(model.modules()):
            if isinstance(module, nn.Sequential):
                _fuse_sequential(module)
        return model


def _fuse_sequential(seq: nn.Sequential) -> None:
    """Replace each (Conv2d, BatchNorm2d) neighbour pair of ``seq`` in place by one conv (and an Identity)."""
    names = list(seq._modules)
    for a, b in zip(names, names[1:], strict=False):
        conv, bn = seq._modules[a], seq._modules[b]
        if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d) and conv.out_channels == bn.num_features:
            seq._modules[a] = fuse_conv_bn_eval(conv, bn)
            seq._modules[b] = nn.Identity()
