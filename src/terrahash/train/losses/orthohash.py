"""OrthoHash baseline: one cosine-margin softmax over orthogonal class codes.

Hoe, Ng, Aw, Chan, Tan, Zeng, "One Loss for All: Deep Hashing with a Single Cosine
Similarity based Learning Objective", NeurIPS 2021 (https://arxiv.org/abs/2109.14449);
reference: github.com/kamwoh/orthohash ``functions/loss/orthohash.py``. The continuous
codes' cosines to fixed binary class codes, minus a margin ``m`` at the item's own classes
and times a scale ``s``, go through a softmax; label sets use the reference's label
smoothing (the target spread evenly over the set). Its quantisation term,
``1 - cos(v, sign(v))`` with the sign detached, has weight 0 by default, as in the
reference's published settings (``--quan 0``); s = 8, m = 0.2 are its defaults too. The
class codes are the Hadamard rows CSQ uses (pairwise orthogonal, which the reference's
Bernoulli codebook only approximates). This is CCLS2T's margin softmax alone, without its
centre BCE, hierarchy, text branch or other terms.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from terrahash.model.centers import CentreSet
from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.terms import margin_softmax


class OrthoHashLoss(HashLoss):
    """``ce * margin_softmax + quan * (1 - cos(v, sign(v)))`` on image codes."""

    name = "orthohash"
    reference = "Hoe et al., OrthoHash (One Loss for All), NeurIPS 2021"
    uses_centres = True
    centres: torch.Tensor

    def __init__(
        self, centres: CentreSet, scale: float = 8.0, margin: float = 0.2, ce: float = 1.0, quan: float = 0.0
    ) -> None:
        super().__init__()
        self.register_buffer("centres", torch.from_numpy(centres.centres))
        self.scale = scale
        self.margin = margin
        self.ce = ce
        self.quan = quan

    @property
    def settings(self) -> dict[str, float]:
        """Softmax scale and margin, and the two term weights."""
        return {"scale": self.scale, "margin": self.margin, "ce": self.ce, "quan": self.quan}

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Margin softmax over the class centres plus (weighted) cosine quantisation."""
        assert inputs.labels is not None
        v = inputs.out.logits_image
        labels = inputs.labels.float()
        known = labels.sum(1) > 0  # unlabelled items have no class to be drawn to
        ce = v.new_zeros(())
        if bool(known.any()):
            targets = labels[known] / labels[known].sum(1, keepdim=True)
            ce = self.ce * margin_softmax(v[known], self.centres, targets, self.scale, self.margin)
        quan = self.quan * (1.0 - F.cosine_similarity(v, v.detach().sign(), dim=1)).mean()
        return {"softmax": ce, "quan": quan, "loss": ce + quan}
