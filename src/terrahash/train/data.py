"""The tensors a training run reads, in a module of their own: the loop and validation share them."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class TrainingData:
    """Every tensor training needs, indexed by item; splits are index tensors."""

    images: torch.Tensor  # uint8 (N, 3, S, S)
    mean: list[float]
    std: list[float]
    train_idx: torch.Tensor
    val_idx: torch.Tensor
    labels: torch.Tensor | None = None  # bool (N, C)
    targets: torch.Tensor | None = None  # float +-1 (N, K)
    tokens: torch.Tensor | None = None  # int64 (N, L)
    features: torch.Tensor | None = None  # float (N, F)
    feature_mask: torch.Tensor | None = None  # bool (N, F)
    text_group: torch.Tensor | None = None  # int64 (N,)
    partners: torch.Tensor | None = None  # int64 (N, P): other dates of the same ground, -1 padded
    per_image: bool = False  # normalise each image by its own statistics (``transforms.normalize``)

    def batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        """The named tensors of items ``idx`` (``None`` entries left out)."""
        names = ("labels", "targets", "tokens", "features", "feature_mask", "text_group")
        out = {n: getattr(self, n)[idx] for n in names if getattr(self, n) is not None}
        out["images"] = self.images[idx]
        return out
