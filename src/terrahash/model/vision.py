"""Multiscale vision encoder: a ResNet in plain PyTorch run on an image pyramid.

The backbone follows torchvision's module names (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer1.0.downsample.0`` ...) so a ResNet-18/50 state dict saved by torchvision loads
as is; the small default only changes widths, depths and the stem. Each pyramid level
goes through the same backbone and a learned attention pooling weighs the levels per
image, so fine texture (cars, roofs) and layout (fields, rivers) both count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

from terrahash.data.transforms import pyramid
from terrahash.model.errors import ModelError


@dataclass(frozen=True)
class VisionConfig:
    """Backbone shape; ``resnet18``/``resnet50`` presets match torchvision exactly."""

    block: str = "basic"
    layers: tuple[int, ...] = (1, 1, 1, 1)
    widths: tuple[int, ...] = (32, 64, 128, 256)
    stem_width: int = 32
    stem_kernel: int = 3
    stem_stride: int = 2
    stem_pool: bool = False
    scales: int = 2
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VisionConfig:
        """Build from the ``vision`` block of a model config."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("layers", "widths"):
            if key in known:
                known[key] = tuple(int(v) for v in known[key])
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tuples as lists)."""
        return {
            "block": self.block,
            "layers": list(self.layers),
            "widths": list(self.widths),
            "stem_width": self.stem_width,
            "stem_kernel": self.stem_kernel,
            "stem_stride": self.stem_stride,
            "stem_pool": self.stem_pool,
            "scales": self.scales,
        }


def _torchvision_resnet(block: str, layers: list[int]) -> dict[str, Any]:
    """A ``vision`` block with torchvision's ResNet stem and widths (7x7 stride-2 conv, max pool)."""
    return {
        "block": block,
        "layers": layers,
        "widths": [64, 128, 256, 512],
        "stem_width": 64,
        "stem_kernel": 7,
        "stem_stride": 2,
        "stem_pool": True,
    }


#: torchvision architectures, for ``--backbone-weights``.
RESNET_PRESETS: dict[str, dict[str, Any]] = {
    "resnet18": _torchvision_resnet("basic", [2, 2, 2, 2]),
    "resnet50": _torchvision_resnet("bottleneck", [3, 4, 6, 3]),
}


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = _shortcut(in_ch, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block."""
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity, inplace=True)


class Bottleneck(nn.Module):
    """1x1-3x3-1x1 bottleneck with 4x expansion (ResNet-50), stride on the 3x3 like torchvision."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.downsample = _shortcut(in_ch, out_ch, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block."""
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        out = F.relu(self.bn2(self.conv2(out)), inplace=True)
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return F.relu(out + identity, inplace=True)


def _shortcut(in_ch: int, out_ch: int, stride: int) -> nn.Sequential | None:
    if stride == 1 and in_ch == out_ch:
        return None
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))


class ResNet(nn.Module):
    """ResNet trunk without the classifier; ``forward`` returns globally pooled features."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        blocks_by_name: dict[str, type[BasicBlock | Bottleneck]] = {
            "basic": BasicBlock,
            "bottleneck": Bottleneck,
        }
        block = blocks_by_name.get(cfg.block)
        if block is None:
            raise ValueError(f"unknown block {cfg.block!r}; expected 'basic' or 'bottleneck'")
        self.conv1 = nn.Conv2d(
            3, cfg.stem_width, cfg.stem_kernel, cfg.stem_stride, cfg.stem_kernel // 2, bias=False
        )
        self.bn1 = nn.BatchNorm2d(cfg.stem_width)
        self.maxpool = nn.MaxPool2d(3, 2, 1) if cfg.stem_pool else nn.Identity()
        in_ch = cfg.stem_width
        for i, (depth, width) in enumerate(zip(cfg.layers, cfg.widths, strict=True)):
            blocks: list[nn.Module] = []
            for j in range(depth):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(block(in_ch, width, stride))
                in_ch = width * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.n_stages = len(cfg.layers)
        self.out_dim = in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, out_dim)."""
        x = self.maxpool(F.relu(self.bn1(self.conv1(x)), inplace=True))
        for i in range(self.n_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


class AttentionPool(nn.Module):
    """Learned attention over per-scale features: weights depend on content and scale."""

    def __init__(self, dim: int, n_scales: int, hidden: int = 64) -> None:
        super().__init__()
        self.scale_embedding = nn.Parameter(torch.zeros(n_scales, dim))
        self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(N, S, D) -> (N, D)."""
        weights = torch.softmax(self.score(feats + self.scale_embedding).squeeze(-1), dim=1)
        return (weights.unsqueeze(-1) * feats).sum(dim=1)


class MultiScaleVisionEncoder(nn.Module):
    """Shared ResNet applied to ``scales`` pyramid levels, fused by attention pooling."""

    def __init__(self, cfg: VisionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.backbone = ResNet(cfg)
        self.pool = AttentionPool(self.backbone.out_dim, cfg.scales) if cfg.scales > 1 else None
        self.out_dim = self.backbone.out_dim

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised images (N, 3, H, W) -> features (N, out_dim)."""
        levels = pyramid(images, self.cfg.scales)
        if self.pool is None:
            return self.backbone(levels[0])
        n = images.shape[0]
        if all(level.shape == levels[0].shape for level in levels):
            feats = self.backbone(torch.cat(levels)).view(len(levels), n, -1)
        else:
            feats = torch.stack([self.backbone(level) for level in levels])
        return self.pool(feats.transpose(0, 1))


def load_backbone_state(backbone: ResNet, state: Mapping[str, torch.Tensor], source: str) -> int:
    """Copy a torchvision-layout ResNet state dict into ``backbone``; returns tensors loaded.

    ``fc.*`` is ignored (we have no classifier). Any other missing or mis-shaped key is
    an error naming ``source``, because silently half-loading weights hides a wrong file.
    """
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith("fc.")}
    own = backbone.state_dict()
    missing = sorted(k for k in own if k not in state and not k.endswith("num_batches_tracked"))
    unexpected = sorted(k for k in state if k not in own)
    if missing or unexpected:
        detail = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ModelError(
            f"{source}: error: not a state dict of this backbone ({detail}); "
            "expected a torchvision resnet18 or resnet50 state dict"
        )
    for key, value in state.items():
        if own[key].shape != value.shape:
            raise ModelError(
                f"{source}: error: {key} has shape {tuple(value.shape)}, "
                f"the backbone expects {tuple(own[key].shape)}"
            )
    backbone.load_state_dict(state, strict=False)
    return len(state)


def detect_resnet_preset(state: Mapping[str, torch.Tensor], source: str) -> str:
    """``resnet18`` or ``resnet50`` from a torchvision state dict's keys."""
    if "layer1.0.conv3.weight" in state:
        return "resnet50"
    if "layer1.0.conv2.weight" in state and "layer1.1.conv1.weight" in state:
        return "resnet18"
    raise ModelError(f"{source}: error: not a torchvision ResNet-18/50 state dict")


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every eval-mode BatchNorm into the convolution before it, in place.

    Inference only: the folded convolution computes the same function (to float rounding)
    with one pass over the activations instead of two, about 1.3x faster encoding on CPU.
    Training must keep the BatchNorm layers, so only ``HashModel`` (a loaded run) folds.
    """
    model.eval()
    for module in model.modules():
        if isinstance(module, BasicBlock | Bottleneck | ResNet):
            for conv, norm in (("conv1", "bn1"), ("conv2", "bn2"), ("conv3", "bn3")):
                if isinstance(getattr(module, norm, None), nn.BatchNorm2d):
                    setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, norm)))
                    setattr(module, norm, nn.Identity())
        shortcut = getattr(module, "downsample", None)
        if isinstance(shortcut, nn.Sequential) and len(shortcut) == 2:
            projection, projection_norm = shortcut[0], shortcut[1]
            if isinstance(projection, nn.Conv2d) and isinstance(projection_norm, nn.BatchNorm2d):
                module.downsample = nn.Sequential(fuse_conv_bn_eval(projection, projection_norm))
    return model
