"""Unsupervised CCLS2T for archives without labels: two augmented views + image-metadata pairs.

Codes of two augmentations of one image must pick each other out of the batch (NT-Xent,
SimCLR: Chen et al., ICML 2020, https://arxiv.org/abs/2002.05709, applied to relaxed codes
as in CIBHash, Qiu et al., IJCAI 2021, https://arxiv.org/abs/2105.06138). Image and
metadata embeddings are aligned by the same ITC as the supervised objective.
"""

from __future__ import annotations

import torch

from terrahash.train.losses.base import HashLoss, LossInputs
from terrahash.train.losses.terms import bit_balance, info_nce, masked_mse, nt_xent, quantization


class UnsupervisedLoss(HashLoss):
    """NT-Xent over view codes + ITC + reconstruction + quantisation + balance + consistency."""

    name = "unsupervised"
    reference = "SimCLR (ICML 2020) / CIBHash (IJCAI 2021) views, CCLS2T ITC"
    uses_text = True
    needs_labels = False
    two_views = True

    def __init__(self, itc: bool = True, temperature: float = 0.3) -> None:
        super().__init__()
        self.itc = itc
        self.temperature = temperature

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:
        """Named terms and their total."""
        out, other = inputs.out, inputs.second_view
        assert other is not None
        h1, h2 = torch.tanh(out.logits_fused), torch.tanh(other.logits_image)
        terms = {
            "views": nt_xent(h1, h2, self.temperature),
            "quant": 0.1 * quantization(h1),
            "balance": 0.05 * bit_balance(h1),
            "consistency": 0.5 * (torch.tanh(out.logits_image) - h1).pow(2).mean(),
        }
        if out.emb_text is not None:
            if self.itc:
                terms["itc"] = 0.3 * info_nce(out.emb_image, out.emb_text, out.logit_scale, inputs.text_group)
            if (
                out.reconstruction is not None
                and inputs.features is not None
                and inputs.feature_mask is not None
            ):
                terms["recon"] = 0.3 * masked_mse(out.reconstruction, inputs.features, inputs.feature_mask)
        terms["loss"] = torch.stack(list(terms.values())).sum()
        return terms
