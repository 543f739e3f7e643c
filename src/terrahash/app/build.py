"""Index a dataset folder with a trained run: images (+ records) -> fused codes -> index.

Provenance (run folder, a fingerprint of its weights and config, the code kind, the prompt
template version) goes into the manifest, so queries can refuse a model the index was not
built with instead of returning plausible nonsense.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from terrahash.index.api import Index
from terrahash.index.errors import HashIndexError, IndexMismatchError

Progress = Callable[[int], None]


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


def model_provenance(model: Any, run_dir: str | Path) -> dict[str, Any]:
    """What the manifest records about the model an index was encoded with."""
    config = getattr(model, "config", {}) or {}
    return {
        "run_dir": str(Path(run_dir).resolve()),
        "fingerprint": model_fingerprint(run_dir),
        "bits": int(model.bits),
        "method": config.get("method"),
    }


def check_model(index: Index, model: Any, run_dir: str | Path) -> None:
    """Raise ``IndexMismatchError`` when ``model`` did not produce this index's codes."""
    where = index.manifest.get("path") or getattr(index.backend, "root", "index")
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


def encode_dataset_codes(
    model: Any, dataset: Any, progress: Progress | None = None, cluster: Any = None
) -> tuple[Any, str]:
    """Database codes: ``fused`` (image + record) where the model has a text encoder.

    With ``cluster`` (``distributed.ClusterOptions``) the encoding runs on Dask workers.
    """
    kind = "fused" if "fused" in getattr(model, "query_kinds", ("fused",)) else "image"
    if cluster is not None:
        from terrahash.app.distributed import encode_distributed

        return encode_distributed(model, dataset, kind, cluster, progress)[0], kind
    out = model.encode_dataset(dataset, kinds=(kind,), progress=progress)
    return out[f"codes_{kind}"], kind


def _add_dataset(
    index: Index,
    model: Any,
    dataset: Any,
    progress: Progress | None,
    /,  # positional-only: the manifest fields include a ``model`` key
    replace: bool = False,
    cluster: Any = None,
    **manifest: Any,
) -> None:
    codes, kind = encode_dataset_codes(model, dataset, progress, cluster)
    ids = [item.id for item in dataset]
    records = [item.record for item in dataset]
    labels = [list(item.labels) for item in dataset]
    paths = [str(item.path) for item in dataset]
    backend = index.backend
    if replace:  # both backends replace all items in one atomic write
        backend.add(ids, codes, records, labels, paths, replace=True, code_kind=kind, **manifest)
    else:
        index.add(ids, codes, records=records, labels=labels, paths=paths)
        backend.update_manifest(code_kind=kind, **manifest)


def build_index(
    run_dir: str | Path,
    data_dir: str | Path,
    out: str | Path,
    progress: Progress | None = None,
    cluster: Any = None,
) -> Index:
    """Encode ``data_dir`` with the run in ``run_dir`` into a new index at ``out``.

    An existing index at ``out`` is replaced atomically (a new generation); a new one is
    assembled in a hidden sibling folder and renamed into place when complete.
    """
    from terrahash.data import load_dataset
    from terrahash.metadata.prompt import TEMPLATE_VERSION
    from terrahash.model import load_model

    model = load_model(run_dir)
    dataset = load_dataset(data_dir)
    if cluster is not None and cluster.staging is None:
        from dataclasses import replace as with_fields

        from terrahash.app.distributed import staging_dir_for

        cluster = with_fields(cluster, staging=staging_dir_for(out))
    out = Path(out)
    meta = {
        "model": model_provenance(model, run_dir),
        "template_version": TEMPLATE_VERSION,
        "dataset": str(Path(data_dir).resolve()),
    }
    if str(out).startswith(("postgresql:/", "postgres:/")):
        from terrahash.index.postgres import build_postgres_index

        return build_postgres_index(str(out), model, dataset, meta, progress, cluster, _add_dataset)
    if (out / "manifest.json").exists():
        index = Index.open(out)
        if index.bits != model.bits:
            raise HashIndexError(
                f"{out}: error: holds {index.bits}-bit codes but the model makes {model.bits}-bit "
                "codes; choose another --out or remove the old index"
            )
        _add_dataset(index, model, dataset, progress, replace=True, cluster=cluster, **meta)
        _clear_staging(cluster)
        return index
    if out.exists() and any(out.iterdir()):
        raise HashIndexError(f"{out}: error: folder exists, is not empty and is not an index")
    tmp = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    index = Index.create(tmp, model.bits, **meta)
    _add_dataset(index, model, dataset, progress, cluster=cluster)
    index.close()
    if out.exists():
        out.rmdir()
    os.rename(tmp, out)
    _clear_staging(cluster)
    return Index.open(out)


def _clear_staging(cluster: Any) -> None:
    """Drop the resumable partitions once the index holds them."""
    if cluster is not None and cluster.staging is not None:
        shutil.rmtree(cluster.staging, ignore_errors=True)


def add_to_index(
    index_dir: str | Path,
    data_dir: str | Path,
    run_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> tuple[Index, int]:
    """Encode ``data_dir`` with the index's own model and upsert it; returns (index, n added)."""
    from terrahash.data import load_dataset
    from terrahash.model import load_model

    index = Index.open(index_dir)
    run = run_dir or (index.manifest.get("model") or {}).get("run_dir")
    if run is None:
        raise IndexMismatchError(f"{index_dir}: error: the index records no model; pass --model RUN_DIR")
    model = load_model(run)
    check_model(index, model, run)
    dataset = load_dataset(data_dir)
    _add_dataset(index, model, dataset, progress)
    return index, len(dataset)
