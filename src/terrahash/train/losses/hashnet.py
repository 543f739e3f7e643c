"""HashNet baseline: deep learning to hash by continuation.

Cao, Long, Wang, Yu, "HashNet: Deep Learning to Hash by Continuation", ICCV 2017
(https://arxiv.org/abs/1702.00758); reference: DeepHash-pytorch ``HashNet.py`` as it stood
before commit 4cfd99a (2022), which dropped its training-set buffer for in-batch pairs.
Codes are ``h = tanh(scale * u)``; ``h`` (detached) and the labels overwrite the batch's rows
of a buffer over the whole training set, and the pairwise likelihood of ``alpha * h . U_j``
(alpha = 0.1) is weighted so that similar and dissimilar pairs weigh half each (each set's
mean, summed). The reference raises ``scale = sqrt(1 + epoch // 20)`` every 20 of its 150
epochs; here the same steps fall at the same fractions of the training budget.
"""

from __future__ import annotations

import math

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.buffer import CodeBuffer
from terrahash.train.losses.terms import pairwise_likelihood, similarity


class HashNetLoss(HashLoss):
    """Balanced weighted pairwise cross-entropy against the training-set buffer, with a tanh continuation."""

    name = "hashnet"
    reference = "Cao et al., HashNet, ICCV 2017; training-set code buffer as in DeepHash-pytorch"

    def __init__(self, alpha: float = 0.1, step_continuation: int = 20, reference_epochs: int = 150) -> None:
        super().__init__()
        self.alpha = alpha
        self.step_continuation = step_continuation
        self.reference_epochs = reference_epochs
        self.buffer = CodeBuffer()

    @property
    def settings(self) -> dict[str, float]:
        """Sigmoid scale of the inner product and the continuation schedule."""
        return {
            "alpha": self.alpha,
            "step_continuation": self.step_continuation,
            "reference_epochs": self.reference_epochs,
        }

    def scale(self, progress: float) -> float:
        """``sqrt(1 + e // step_continuation)``, ``e`` the reference epoch at this fraction of training."""
        epoch = math.floor(min(max(progress, 0.0), 1.0) * self.reference_epochs)
        return (epoch // self.step_continuation + 1) ** 0.5

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Weighted pairwise likelihood over (batch, training set)."""
        assert inputs.labels is not None
        h = torch.tanh(self.scale(inputs.progress) * inputs.out.logits_image)
        self.buffer.update(inputs.index, h, inputs.labels, inputs.n_train)
        inner = self.alpha * h @ self.buffer.codes.t()
        sim = similarity(inputs.labels, self.buffer.labels).to(h.dtype)  # weights in the codes' precision
        n_all = float(sim.numel())
        n_pos = sim.sum()
        # Counts carry no gradient; clamping keeps an empty side's weight finite (it weighs nothing).
        weight = torch.where(sim > 0, n_all / n_pos.clamp_min(1.0), n_all / (n_all - n_pos).clamp_min(1.0))
        pairs = (weight * pairwise_likelihood(inner, sim)).sum() / n_all
        return {"pairwise": pairs, "loss": pairs}
