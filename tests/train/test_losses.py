"""Every objective decreases on a fixed batch of real UC Merced images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from terrahash.data import load_dataset
from terrahash.data.transforms import channel_stats, preload_images
from terrahash.model import create_model, get_model_config
from terrahash.model.centers import build_centres
from terrahash.train.losses import get_loss_class, list_methods
from terrahash.train.run import TrainOptions, _make_loss, _text_tensors, seed_everything
from terrahash.train.trainer import Trainer, TrainingData


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
