"""Training validation is the evaluator's mAP@100; NaN (never 0) when nothing is relevant."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from terrahash.data import load_dataset
from terrahash.data.transforms import channel_stats, preload_images
from terrahash.evaluate.protocol import database_order
from terrahash.model import create_model, get_model_config
from terrahash.model.ccls2t import CCLS2T
from terrahash.train.data import TrainingData
from terrahash.train.losses import get_loss_class
from terrahash.train.trainer import Trainer
from terrahash.train.validation import _codes, validate
from tests.evaluate.helpers import reference_map


def _tiny(tiny_data: Path, labels: torch.Tensor | None = None) -> tuple[CCLS2T, TrainingData]:
    """An untrained 16-bit image-only model and the 40 tiny images, the last 8 for validation."""
    torch.manual_seed(0)
    ds = load_dataset(tiny_data)
    images = preload_images(ds, 32)
    mean, std = channel_stats(images)
    config = get_model_config()
    config["bits"] = 16
    config["vision"].update(widths=[8, 16, 32, 64], stem_width=8, scales=1)
    model, _ = create_model(config, use_text=False)
    order = torch.randperm(len(ds), generator=torch.Generator().manual_seed(0))
    data = TrainingData(
        images=images, mean=mean, std=std, train_idx=order[:32], val_idx=order[32:],
        labels=torch.from_numpy(ds.label_matrix()) if labels is None else labels,
    )
    return model, data


def test_validation_map_matches_brute_force_on_the_protocol_order(tiny_data: Path) -> None:
    model, data = _tiny(tiny_data)
    score = validate(model, data)["val_map@100"]
    model.eval()  # validate() hands the model back in training mode
    db_idx = data.train_idx[torch.from_numpy(database_order(len(data.train_idx)))]
    query, db = _codes(model, data, data.val_idx)["image"], _codes(model, data, db_idx)["fused"]
    assert data.labels is not None
    labels = data.labels.float()
    relevance = (labels[data.val_idx] @ labels[db_idx].t() > 0).numpy()
    assert score == pytest.approx(reference_map(query, db, relevance, k=100), abs=1e-12)


def test_no_relevant_validation_item_gives_nan_and_keeps_the_latest_epoch(tiny_data: Path) -> None:
    labels = torch.zeros(40, 2, dtype=torch.bool)
    model, data = _tiny(tiny_data, labels)
    labels[data.train_idx, 0] = True  # validation items share no label with the database
    labels[data.val_idx, 1] = True
    assert math.isnan(validate(model, data)["val_map@100"])
    trainer = Trainer(model, get_loss_class("dpsh")(), data, epochs=2, batch_size=16)
    state = trainer.fit()
    assert all(math.isnan(row["val_map@100"]) for row in state.history)
    assert state.best_epoch == 2 and math.isnan(state.best_score)
