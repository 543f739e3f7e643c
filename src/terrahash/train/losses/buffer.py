"""A code buffer over the whole training set, as DeepHash-pytorch keeps for pairwise methods.

DeepHash-pytorch's DPSH (and its HashNet up to commit 4cfd99a, 2022) hold ``U`` (n_train, K)
and ``Y`` (n_train, C): each step writes the batch's detached outputs and labels into their
rows, then scores the batch against every row, so one batch sees pairs with the whole
training set instead of its own 64 items. Rows not visited yet stay zero, as there.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class CodeBuffer(nn.Module):
    """``codes`` (n_train, K) and ``labels`` (n_train, C); sized at the first ``update``.

    Both are registered buffers, so they travel in the loss's ``state_dict`` (the trainer's
    checkpoint) and a resumed run continues with the same pairs.
    """

    codes: torch.Tensor
    labels: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("codes", torch.zeros(0, 0))
        self.register_buffer("labels", torch.zeros(0, 0))

    def update(
        self, index: torch.Tensor | None, codes: torch.Tensor, labels: torch.Tensor, size: int
    ) -> None:
        """Write ``codes`` (detached) and ``labels`` into rows ``index`` of a ``size``-row buffer.

        Raises:
            ValueError: without row indices, with a row outside the buffer, or when ``size``
                differs from the buffer's (another training set).
        """
        if index is None or size < 1:
            raise ValueError("a code buffer needs each item's training-set row and the training set size")
        if self.codes.numel() == 0:
            self.codes = codes.new_zeros(size, codes.shape[1])
            self.labels = labels.new_zeros(size, labels.shape[1], dtype=torch.float32)
        if self.codes.shape[0] != size:
            raise ValueError(f"code buffer has {self.codes.shape[0]} rows, the training set {size} items")
        if bool((index < 0).any()) or bool((index >= size).any()):
            raise ValueError(f"training-set rows must be in 0..{size - 1}")
        self.codes[index] = codes.detach()
        self.labels[index] = labels.float()

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # A saved buffer has its training set's size; an unused one is still (0, 0).
        for name in ("codes", "labels"):
            saved = state_dict.get(prefix + name)
            if saved is not None:
                setattr(self, name, torch.empty_like(saved))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
