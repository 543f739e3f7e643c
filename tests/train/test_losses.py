"""Every objective decreases on a fixed batch of real UC Merced images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from terrahash.data import load_dataset
from terrahash.data.transforms import channel_stats, preload_images
from terrahash.model import create_model, get_model_config
from terrahash.model.centers import build_centres
from terrahash.train.data import TrainingData
from terrahash.train.losses import get_loss_class, list_methods
from terrahash.train.run import TrainOptions, _make_loss, _text_tensors, seed_everything
from terrahash.train.trainer import Trainer


@pytest.mark.parametrize("method", list_methods())
def test_loss_decreases_on_real_batch(method: str, tiny_data: Path) -> None:
    seed_everything(0)
    ds = load_dataset(tiny_data)
    images = preload_images(ds, 32)
    mean, std = channel_stats(images)
    cls = get_loss_class(method)
    config = get_model_config()
    config["bits"] = 32
    config["vision"].update(widths=[16, 32, 64, 128], stem_width=16)  # small: this tests the loss
    model, tokenizer = create_model(config, use_text=cls.uses_text)
    labels = torch.from_numpy(ds.label_matrix())
    centres = build_centres(ds.classes, 32, [0, 0, 1, 1]) if cls.uses_centres else None
    data = TrainingData(
        images=images,
        mean=mean,
        std=std,
        train_idx=torch.arange(len(ds)),
        val_idx=torch.arange(0),
        labels=labels if cls.needs_labels else None,
        targets=None if centres is None else centres.targets(labels),
        **(_text_tensors(ds, tokenizer) if cls.uses_text else {}),
    )
    loss = _make_loss(cls, TrainOptions(method=method, bits=32), centres)
    trainer = Trainer(model, loss, data, epochs=20, batch_size=len(ds), lr=3e-3, seed=0)
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
