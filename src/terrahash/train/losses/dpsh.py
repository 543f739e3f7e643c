"""DPSH baseline: deep pairwise-supervised hashing.

Li, Wang, Kang, "Feature Learning based Deep Supervised Hashing with Pairwise Labels",
IJCAI 2016 (https://arxiv.org/abs/1511.03855); reference: DeepHash-pytorch ``DPSH.py``.
As there, the batch's linear outputs ``u`` first overwrite their rows of a buffer ``U`` over
the whole training set (labels into ``Y``); the negative log-likelihood of the pairwise
labels ``s = [y . Y_j > 0]`` under ``theta = u . U_j / 2`` is averaged over the batch x
training-set matrix, plus ``eta * mean((u - sign(u))^2)`` (the reference's ``alpha = 0.1``).
"""

from __future__ import annotations

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.buffer import CodeBuffer
from terrahash.train.losses.terms import pairwise_likelihood, similarity


class DPSHLoss(HashLoss):
    """Negative log-likelihood of the pairwise labels against the training-set buffer, plus quantisation."""

    name = "dpsh"
    reference = "Li et al., DPSH, IJCAI 2016; training-set code buffer as in DeepHash-pytorch"

    def __init__(self, eta: float = 0.1) -> None:
        super().__init__()
        self.eta = eta
        self.buffer = CodeBuffer()

    @property
    def settings(self) -> dict[str, float]:
        """The quantisation weight."""
        return {"eta": self.eta}

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Pairwise likelihood over (batch, training set) plus quantisation."""
        assert inputs.labels is not None
        u = inputs.out.logits_image
        self.buffer.update(inputs.index, u, inputs.labels, inputs.n_train)
        inner = 0.5 * u @ self.buffer.codes.t()
        pairs = pairwise_likelihood(inner, similarity(inputs.labels, self.buffer.labels)).mean()
        quant = self.eta * (u - u.sign()).pow(2).mean()
        return {"pairwise": pairs, "quant": quant, "loss": pairs + quant}
