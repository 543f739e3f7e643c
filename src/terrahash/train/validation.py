"""Validation during training: mAP@100 of image queries against fused database codes.

This mirrors deployment (archives store fused codes; users query with a picture) and
runs on a split carved from the training items, so test items never steer selection.
Ranking is by Hamming distance with ties broken by the evaluation protocol's seeded
random database order, AP normalised by ``min(R, k)`` (the same conventions as
``terrahash.evaluate``). Manifest order would not do: manifests are sorted by class, so
stable ties would reward codes collapsed onto one point per class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from terrahash.data.transforms import normalize
from terrahash.evaluate.protocol import database_order
from terrahash.model.ccls2t import CCLS2T

if TYPE_CHECKING:
    from terrahash.train.trainer import TrainingData


def hamming_map(query: np.ndarray, db: np.ndarray, relevance: np.ndarray, k: int = 100) -> float:
    """mAP@k of ±1/bool bit matrices (Hamming ranking, stable ties); zero-relevance queries skipped."""
    q = query.astype(np.int32)
    d = db.astype(np.int32)
    dist = q.shape[1] - (q @ d.T + (1 - q) @ (1 - d).T)
    aps = []
    for i in range(len(q)):
        n_rel = int(relevance[i].sum())
        if n_rel == 0:
            continue
        order = np.argsort(dist[i], kind="stable")[:k]
        rel = relevance[i, order].astype(np.float64)
        hits = np.cumsum(rel)
        precision = hits / np.arange(1, len(rel) + 1)
        aps.append(float((precision * rel).sum() / min(n_rel, k)))
    return float(np.mean(aps)) if aps else 0.0


@torch.inference_mode()
def _bits(model: CCLS2T, data: TrainingData, idx: torch.Tensor) -> dict[str, np.ndarray]:
    out: dict[str, list[torch.Tensor]] = {"image": [], "fused": [], "text": []}
    for start in range(0, len(idx), 256):
        sub = idx[start : start + 256]
        batch = data.batch(sub)
        result = model(
            normalize(batch["images"], data.mean, data.std),
            batch.get("tokens"),
            batch.get("features"),
            batch.get("feature_mask"),
        )
        out["image"].append(model.binarize(result.logits_image))
        out["fused"].append(model.binarize(result.logits_fused))
        if result.logits_text is not None:
            out["text"].append(model.binarize(result.logits_text))
    return {k: torch.cat(v).numpy() for k, v in out.items() if v}


def validate(model: CCLS2T, data: TrainingData) -> dict[str, float]:
    """``val_map@100`` (image queries vs fused train codes) and cross-kind agreement in bits."""
    model.eval()
    query = _bits(model, data, data.val_idx)
    report: dict[str, float] = {}
    if data.labels is not None:
        db_idx = data.train_idx[torch.from_numpy(database_order(len(data.train_idx)))]
        db = _bits(model, data, db_idx)
        labels = data.labels.float()
        relevance = (labels[data.val_idx] @ labels[db_idx].t() > 0).numpy()
        report["val_map@100"] = hamming_map(query["image"], db["fused"], relevance)
    for a, b in (("image", "fused"), ("image", "text"), ("fused", "text")):
        if a in query and b in query:
            report[f"hamming_{a}_{b}"] = float((query[a] != query[b]).sum(1).mean())
    model.train()
    return report
