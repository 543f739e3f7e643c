"""DPSH baseline: deep pairwise-supervised hashing.

Li, Wang, Kang, "Feature Learning based Deep Supervised Hashing with Pairwise Labels",
IJCAI 2016 (https://arxiv.org/abs/1511.03855); reference: DeepHash-pytorch ``DPSH.py``.
Pairwise likelihood over in-batch pairs with inner product ``u_i . u_j / 2`` on linear
outputs, plus ``eta * ||u - sign(u)||^2`` (eta = 0.1).
"""

from __future__ import annotations

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.terms import pairwise_likelihood, similarity


class DPSHLoss(HashLoss):
    """Negative log-likelihood of the pairwise labels plus quantisation."""

    name = "dpsh"
    reference = "Li et al., DPSH, IJCAI 2016"

    def __init__(self, eta: float = 0.1) -> None:
        super().__init__()
        self.eta = eta

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Pairwise likelihood plus quantisation."""
        assert inputs.labels is not None
        u = inputs.out.logits_image
        inner = 0.5 * u @ u.t()
        pairs = pairwise_likelihood(inner, similarity(inputs.labels)).mean()
        quant = self.eta * (u - torch.where(u >= 0, 1.0, -1.0)).pow(2).mean()
        return {"pairwise": pairs, "quant": quant, "loss": pairs + quant}
