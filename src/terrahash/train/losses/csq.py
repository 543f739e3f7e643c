"""CSQ baseline: central similarity quantization.

Yuan, Wang, Liu, Fu, Lu, Xu, Feng, "Central Similarity Quantization for Efficient Image and
Video Retrieval", CVPR 2020 (https://arxiv.org/abs/1908.00347); reference code:
https://github.com/yuanli2333/Hadamard-Matrix-for-hashing. Flat Hadamard centres, bitwise
BCE to the label set's centre, quantisation weight 1e-4 as in the reference code.
"""

from __future__ import annotations

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.terms import centre_bce, quantization


class CSQLoss(HashLoss):
    """``BCE(codes, centre) + lambda * quantisation`` on image codes."""

    name = "csq"
    reference = "Yuan et al., Central Similarity Quantization, CVPR 2020"
    uses_centres = True

    def __init__(self, quant_weight: float = 1e-4) -> None:
        super().__init__()
        self.quant_weight = quant_weight

    @property
    def settings(self) -> dict[str, float]:
        """The quantisation weight (the reference's ``lambda``)."""
        return {"quant_weight": self.quant_weight}

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Central loss plus quantisation."""
        assert inputs.targets is not None
        codes = torch.tanh(inputs.out.logits_image)
        centre = centre_bce(codes, inputs.targets)
        quant = self.quant_weight * quantization(codes)
        return {"centre": centre, "quant": quant, "loss": centre + quant}
