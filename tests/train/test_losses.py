"""Every objective decreases on a fixed batch of real UC Merced images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from terrahash.train.losses import list_methods
from tests.train.helpers import tiny_trainer


@pytest.mark.parametrize("method", list_methods())
def test_loss_decreases_on_real_batch(method: str, tiny_data: Path) -> None:
    trainer = tiny_trainer(tiny_data, method)
    batch = torch.tensor([c * 10 + i for c in range(4) for i in range(4)])
    losses = [trainer.training_step(batch)["loss"] for _ in range(12)]
    assert losses[-1] < 0.8 * losses[0], losses


def test_itc_ignores_duplicate_prompts() -> None:
    """Identical prompts are never negatives: one shared prompt makes ITC exactly neutral."""
    from terrahash.train.losses.terms import info_nce

    gen = torch.Generator().manual_seed(0)
    a = torch.randn(8, 16, generator=gen, requires_grad=True)
    b = torch.randn(8, 16, generator=gen)
    scale = torch.tensor(10.0)
    shared = info_nce(a, b, scale, torch.zeros(8, dtype=torch.long))
    shared.backward()
    assert float(shared.detach()) == 0.0
    assert a.grad is not None and float(a.grad.abs().max()) == 0.0
    distinct = info_nce(a, b, scale, torch.arange(8))
    plain = info_nce(a, b, scale, None)
    assert torch.allclose(distinct, plain) and float(plain.detach()) > 0.5
    # Pairs of duplicates: each row competes with its own pair and the 6 other-prompt items.
    group = torch.arange(8) // 2
    logits = scale * F.normalize(a, dim=1) @ F.normalize(b, dim=1).t()
    expected = []
    for m in (logits, logits.t()):
        for i in range(8):
            keep = (group != group[i]) | (torch.arange(8) == i)
            expected.append(torch.logsumexp(m[i, keep], 0) - m[i, i])
    assert torch.isclose(info_nce(a, b, scale, group), torch.stack(expected).mean(), atol=1e-5)
