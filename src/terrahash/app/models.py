"""The model that belongs to an index: its identity (fingerprint), provenance and loading.

Provenance (run folder, a fingerprint of its weights and config, the code kind, the prompt
template version) goes into the index manifest at build time, so every later query can
refuse a model the index was not built with instead of returning plausible nonsense.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from terrahash.index import Index, IndexMismatchError
from terrahash.model import HashModel, load_model


class ModelUnavailableError(IndexMismatchError):
    """The index names no model run, so only id queries can be answered."""


def model_fingerprint(run_dir: str | Path) -> str:
    """SHA-256 (first 16 hex digits) of the run's config and weights files."""
    digest = hashlib.sha256()
    for name in ("config.json", "model.safetensors"):
        path = Path(run_dir) / name
        if path.is_file():
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def model_provenance(model: HashModel, run_dir: str | Path) -> dict[str, Any]:
    """What the manifest records about the model an index was encoded with."""
    return {
        "run_dir": str(Path(run_dir).resolve()),
        "fingerprint": model_fingerprint(run_dir),
        "bits": int(model.bits),
        "method": model.config.get("method"),
    }


def model_run_of(index: Index) -> Path | None:
    """The run folder the index's codes came from (manifest key ``model``), if it names one."""
    model = index.manifest.get("model")
    if isinstance(model, dict):
        model = model.get("run_dir") or model.get("run") or model.get("path")
    return Path(model) if model else None


def check_model(index: Index, model: HashModel, run_dir: str | Path) -> None:
    """Raise ``IndexMismatchError`` when ``model`` did not produce this index's codes."""
    where = index.where
    if int(model.bits) != index.bits:
        raise IndexMismatchError(
            f"{where}: error: model {run_dir} makes {model.bits}-bit codes, "
            f"the index holds {index.bits}-bit codes"
        )
    stored = (index.manifest.get("model") or {}).get("fingerprint")
    if stored is not None and stored != model_fingerprint(run_dir):
        raise IndexMismatchError(
            f"{where}: error: model {run_dir} (fingerprint {model_fingerprint(run_dir)}) is not the "
            f"model this index was built with (fingerprint {stored}, run "
            f"{index.manifest['model'].get('run_dir')}); rebuild the index or use that run"
        )


def load_index_model(index: Index, run_dir: str | Path | None = None) -> HashModel:
    """The model that encoded ``index`` (or the one in ``run_dir``), refused if it does not match."""
    run = Path(run_dir) if run_dir is not None else model_run_of(index)
    if run is None:
        raise ModelUnavailableError(
            f"{index.where}: error: the index records no model; pass --model RUN_DIR "
            "(only id queries can be answered without one)"
        )
    model = load_model(run)
    check_model(index, model, run)
    return model
