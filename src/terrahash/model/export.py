"""``terrahash encode``: a dataset folder -> one ``.npz`` of ids, codes, embeddings and labels."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.codes import rowwise_hamming
from terrahash.data.dataset import load_dataset
from terrahash.model.checkpoint import RunConfig
from terrahash.model.runtime import QUERY_KINDS, HashModel


def split_membership(ids: np.ndarray, config: RunConfig) -> np.ndarray:
    """``train``/``val``/``test``/``other`` per id, from the run's recorded split."""
    split = config.get("split", {})
    where = {i: "train" for i in split.get("train_ids", [])}
    where.update({i: "val" for i in split.get("val_ids", [])})
    where.update({i: "test" for i in split.get("test_ids", [])})
    return np.array([where.get(str(i), "other") for i in ids], dtype=str)


def agreement(result: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean Hamming distance (bits) between query kinds for the same item."""
    kinds = [k for k in QUERY_KINDS if f"codes_{k}" in result]
    out = {}
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            out[f"{a}-{b}"] = float(rowwise_hamming(result[f"codes_{a}"], result[f"codes_{b}"]).mean())
    return out


def encode_folder(
    run_dir: str | Path,
    data_dir: str | Path,
    out: str | Path,
    batch_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Encode every item of ``data_dir`` with the run's model into ``out`` (``.npz``).

    The file holds ``ids``, ``labels`` ('|'-joined), ``split``, ``kinds``, and for each kind
    ``codes_<kind>`` (packed uint8, bits/8 per row) and ``emb_<kind>`` (float32). Returns
    a summary with the counts, bits and cross-kind agreement.
    """
    model = HashModel(run_dir, batch_size=batch_size)
    dataset = load_dataset(data_dir)
    result = model.encode_dataset(dataset, progress=progress)
    result["split"] = split_membership(result["ids"], model.config)
    result["bits"] = np.array(model.bits)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, allow_pickle=False, **result)
    return {
        "items": len(dataset),
        "bits": model.bits,
        "method": model.config["method"],
        "kinds": [str(k) for k in result["kinds"]],
        "agreement_hamming": agreement(result),
        "out": str(out if out.suffix == ".npz" else out.with_suffix(out.suffix + ".npz")),
    }
