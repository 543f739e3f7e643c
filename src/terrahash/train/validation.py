"""Validation during training: mAP@100 of image queries against fused database codes.

This mirrors deployment (archives store fused codes; users query with a picture) and
runs on a split carved from the training items, so test items never steer selection.
The score is the evaluator's own :func:`terrahash.evaluate.mean_average_precision` on
packed codes, over the protocol's seeded database order
(:func:`terrahash.evaluate.protocol.database_order`): the same ranking, tie-break,
normaliser ``min(R, k)`` and zero-hit handling as ``terrahash evaluate``. Manifest order
would not do: manifests are sorted by class, so stable ties would reward codes collapsed
onto one point per class. ``val_map@100`` is NaN when no validation query has a relevant
training item.
"""

from __future__ import annotations

import numpy as np
import torch

from terrahash.codes import pack_bits, rowwise_hamming
from terrahash.data.transforms import normalize
from terrahash.evaluate import mean_average_precision, multilabel_relevance
from terrahash.evaluate.protocol import database_order
from terrahash.model.ccls2t import CCLS2T
from terrahash.train.data import TrainingData


@torch.inference_mode()
def _codes(model: CCLS2T, data: TrainingData, idx: torch.Tensor) -> dict[str, np.ndarray]:
    """Packed codes of items ``idx`` per query kind (``text`` only for text models)."""
    out: dict[str, list[torch.Tensor]] = {"image": [], "fused": [], "text": []}
    for start in range(0, len(idx), 256):
        sub = idx[start : start + 256]
        batch = data.batch(sub)
        result = model(
            normalize(batch["images"], data.mean, data.std, data.per_image),
            batch.get("tokens"),
            batch.get("features"),
            batch.get("feature_mask"),
        )
        out["image"].append(model.binarize(result.logits_image))
        out["fused"].append(model.binarize(result.logits_fused))
        if result.logits_text is not None:
            out["text"].append(model.binarize(result.logits_text))
    return {k: pack_bits(torch.cat(v).numpy()) for k, v in out.items() if v}


def validate(model: CCLS2T, data: TrainingData) -> dict[str, float]:
    """``val_map@100`` (image queries vs fused train codes) and cross-kind agreement in bits."""
    model.eval()
    query = _codes(model, data, data.val_idx)
    report: dict[str, float] = {}
    if data.labels is not None:
        db_idx = data.train_idx[torch.from_numpy(database_order(len(data.train_idx)))]
        db = _codes(model, data, db_idx)
        labels = data.labels.numpy()
        relevance = multilabel_relevance(labels[data.val_idx.numpy()], labels[db_idx.numpy()])
        report["val_map@100"] = mean_average_precision(query["image"], db["fused"], relevance, k=100)
    for a, b in (("image", "fused"), ("image", "text"), ("fused", "text")):
        if a in query and b in query:
            report[f"hamming_{a}_{b}"] = float(rowwise_hamming(query[a], query[b]).mean())
    model.train()
    return report
