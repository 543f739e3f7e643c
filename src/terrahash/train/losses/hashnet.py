"""HashNet baseline: deep learning to hash by continuation.

Cao, Long, Wang, Yu, "HashNet: Deep Learning to Hash by Continuation", ICCV 2017
(https://arxiv.org/abs/1702.00758); reference: DeepHash-pytorch ``HashNet.py``. Codes are
``tanh(beta * u)`` with ``beta = (1 + 0.005 * step) ** 0.5`` growing during training;
pairwise likelihood on ``alpha * h_i . h_j`` (alpha = 0.1) weighted so similar and
dissimilar pairs count equally.
"""

from __future__ import annotations

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.terms import pairwise_likelihood, similarity


class HashNetLoss(HashLoss):
    """Balanced weighted pairwise cross-entropy with a tanh continuation."""

    name = "hashnet"
    reference = "Cao et al., HashNet, ICCV 2017"

    def __init__(self, alpha: float = 0.1, step_continuation: float = 0.005) -> None:
        super().__init__()
        self.alpha = alpha
        self.step_continuation = step_continuation

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Weighted pairwise likelihood."""
        assert inputs.labels is not None
        beta = (1.0 + self.step_continuation * inputs.step) ** 0.5
        h = torch.tanh(beta * inputs.out.logits_image)
        inner = self.alpha * h @ h.t()
        sim = similarity(inputs.labels)
        n_pos, n_all = sim.sum(), torch.tensor(float(sim.numel()))
        n_neg = n_all - n_pos
        weight = torch.where(sim > 0, n_all / n_pos.clamp_min(1.0), n_all / n_neg.clamp_min(1.0))
        pairs = (weight * pairwise_likelihood(inner, sim)).mean()
        return {"pairwise": pairs, "loss": pairs}
