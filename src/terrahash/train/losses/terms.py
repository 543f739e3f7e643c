"""Loss terms shared by several objectives (each a pure function of tensors)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def centre_bce(codes: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Bitwise BCE between relaxed codes in (-1, 1) and +-1 centres (CSQ's central loss)."""
    p = ((codes + 1) / 2).clamp(1e-6, 1 - 1e-6)
    return F.binary_cross_entropy(p, (targets + 1) / 2)


def quantization(codes: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of ``|code|`` from 1."""
    return (codes.abs() - 1).pow(2).mean()


def bit_balance(codes: torch.Tensor) -> torch.Tensor:
    """Each bit should be +1 for half the batch: mean over bits of the squared batch mean."""
    return codes.mean(dim=0).pow(2).mean()


def pairwise_likelihood(inner: torch.Tensor, similar: torch.Tensor) -> torch.Tensor:
    """Element-wise ``log(1 + exp(ip)) - s * ip`` computed stably (DPSH / HashNet)."""
    return F.softplus(inner) - similar * inner


def info_nce(
    a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor, group: torch.Tensor | None
) -> torch.Tensor:
    """Symmetric InfoNCE between L2-normalised ``a`` and ``b``, duplicates masked out.

    Items whose prompts are identical (same ``group``) are neither positives nor negatives
    of each other: each item's own pair is its positive and only items with a *different*
    prompt compete with it. Archives often share one prompt per sensor (or per dataset);
    calling those pairs negatives teaches noise, and spreading a soft target over them
    still constrains the image embeddings. With one prompt for the whole batch every row
    has no negatives and the term is exactly zero, i.e. neutral.
    """
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    logits = scale * a @ b.t()
    if group is not None:
        duplicate = (group[:, None] == group[None, :]) & ~torch.eye(
            a.shape[0], dtype=torch.bool, device=a.device
        )
        logits = logits.masked_fill(duplicate, float("-inf"))
    target = torch.arange(a.shape[0], device=a.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """MSE over known values only; 0 when nothing is known."""
    mask = mask.float()
    return ((pred - target).pow(2) * mask).sum() / mask.sum().clamp_min(1.0)


def nt_xent(a: torch.Tensor, b: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's NT-Xent: each view must pick its partner among all 2N - 1 others."""
    z = F.normalize(torch.cat([a, b]), dim=1)
    n = a.shape[0]
    sim = z @ z.t() / temperature
    sim.fill_diagonal_(float("-inf"))
    partner = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(a.device)
    return F.cross_entropy(sim, partner)


def similarity(labels: torch.Tensor, others: torch.Tensor | None = None) -> torch.Tensor:
    """Pairwise relevance (N, M): 1 when two label sets share a label; ``others`` defaults to ``labels``."""
    others = labels if others is None else others
    return (labels.float() @ others.float().t() > 0).float()


def margin_softmax(
    codes: torch.Tensor, centres: torch.Tensor, targets: torch.Tensor, scale: float, margin: float
) -> torch.Tensor:
    """OrthoHash's cosine-margin softmax of codes over class centres.

    ``targets`` (N, C) is a distribution over the centres (one-hot for single labels, a
    multi-hot row divided by its sum for label sets: OrthoHash's label smoothing); the
    margin is taken off the cosine of every target centre, so a code must beat the other
    centres by ``margin`` before its loss falls off.
    """
    cos = F.normalize(codes, dim=1) @ F.normalize(centres, dim=1).t()
    logits = scale * (cos - margin * (targets > 0).float())
    return F.cross_entropy(logits, targets)
