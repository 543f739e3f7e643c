"""Build or extend an index from a dataset folder: images (+ records) -> codes -> any backend.

One path for every backend (an embedded folder or a ``postgresql://`` schema) and every
scheduler (in-process, or Dask workers with ``ClusterOptions``); the model's provenance goes
into the manifest so that later queries are encoded by the same model.

In-process builds also store each item's re-ranking vector (``VECTOR_SOURCE`` of its image
embedding, from the same forward pass as its code) and name its source in the manifest
(``embedding_source``), so the ``Searcher`` makes query vectors the same way. Dask builds
store codes only (their searches rank by Hamming distance alone).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.app.distributed import ClusterOptions, encode_distributed, split_rows, staging_dir_for
from terrahash.app.models import check_model, load_index_model, model_provenance
from terrahash.data import SceneDataset, load_dataset
from terrahash.index import HashIndexError, Index, index_exists, is_postgres_uri
from terrahash.metadata import SceneRecord
from terrahash.metadata.prompt import TEMPLATE_VERSION
from terrahash.model import HashModel, load_model

Progress = Callable[[int], None]
#: The re-ranking vectors builds store (``HashModel.VECTOR_SOURCES``): chosen on UC Merced's
#: validation part by ``bench/rerank.py`` (results in ``bench/results/rerank.md``).
VECTOR_SOURCE = "tanh_hash"
#: They are made from each item's image embedding, even where its code is fused: an image
#: query then meets its own item's vector exactly (score 1), so an archived image searched by
#: its own file comes first, which a fused vector, moved by the record, does not guarantee.
VECTOR_KIND = "image"


@dataclass(frozen=True)
class Encoded:
    """A dataset's database codes, re-ranking vectors and the catalog columns that go with them."""

    ids: list[str]
    codes: np.ndarray
    kind: str
    records: list[SceneRecord]
    labels: list[list[str]]
    paths: list[str]
    #: Float (n, D) re-ranking vectors of ``vector_source`` (``None``: not made, as on Dask).
    vectors: np.ndarray | None = None
    vector_source: str | None = None

    @property
    def manifest(self) -> dict[str, Any]:
        """What the index's manifest records about these items' encoding."""
        return {"code_kind": self.kind, "embedding_source": self.vector_source,
                "embedding_kind": VECTOR_KIND if self.vector_source else None}


def database_kind(model: HashModel) -> str:
    """Archives store ``fused`` (image + record) codes where the model has a text encoder."""
    return "fused" if "fused" in model.query_kinds else "image"


def encode_for_index(
    model: HashModel, dataset: SceneDataset, progress: Progress | None = None,
    cluster: ClusterOptions | None = None, source: str = VECTOR_SOURCE,
) -> Encoded:
    """Encode ``dataset`` (codes and ``source`` re-ranking vectors) in-process, or on Dask
    workers when ``cluster`` is given (the same codes and vectors)."""
    kind = database_kind(model)
    if cluster is not None:
        rows = encode_distributed(model, dataset, kind, cluster, progress, (VECTOR_KIND, source))[0]
        codes, vectors = split_rows(rows, model.bits // 8)
    else:
        kinds = tuple(dict.fromkeys((kind, VECTOR_KIND)))
        encoded = model.encode_dataset(dataset, kinds=kinds, progress=progress)
        codes, vectors = encoded[f"codes_{kind}"], model.rerank_vectors(encoded[f"emb_{VECTOR_KIND}"], source)
    return Encoded(
        ids=[item.id for item in dataset], codes=codes, kind=kind,
        records=[item.record for item in dataset], labels=[list(item.labels) for item in dataset],
        paths=[str(item.path) for item in dataset], vectors=vectors, vector_source=source,
    )


def build_index(
    run_dir: str | Path,
    data_dir: str | Path,
    out: str | Path,
    progress: Progress | None = None,
    cluster: ClusterOptions | None = None,
) -> Index:
    """Encode ``data_dir`` with the run in ``run_dir`` into the index at ``out`` (any backend).

    An existing index at ``out`` is replaced atomically: a new generation on disk, one
    transaction in PostgreSQL. A new embedded index is assembled in a hidden sibling folder
    and renamed into place when complete, so a killed build leaves nothing half-written.
    """
    model = load_model(run_dir)
    dataset = load_dataset(data_dir)
    if cluster is not None and cluster.staging is None:
        cluster = replace(cluster, staging=staging_dir_for(out))
    meta = {
        "model": model_provenance(model, run_dir),
        "template_version": TEMPLATE_VERSION,
        "dataset": str(Path(data_dir).resolve()),
    }
    existing = _open_existing(out, model)
    if existing is not None:
        encoded = encode_for_index(model, dataset, progress, cluster)
        existing.replace_all(encoded.ids, encoded.codes, encoded.records, encoded.labels, encoded.paths,
                             encoded.vectors, **encoded.manifest, **meta)
        _clear_staging(cluster)
        return existing
    if is_postgres_uri(out):
        index = Index.create(str(out), model.bits, **meta)
        _add(index, encode_for_index(model, dataset, progress, cluster))
        _clear_staging(cluster)
        return index
    return _build_folder(Path(out), model, dataset, meta, progress, cluster)


def _open_existing(out: str | Path, model: HashModel) -> Index | None:
    """The index already at ``out`` (to be replaced), refused when its code length differs."""
    if is_postgres_uri(out):
        if not index_exists(str(out)):
            return None
    elif not (Path(out) / "manifest.json").exists():
        if Path(out).exists() and any(Path(out).iterdir()):
            raise HashIndexError(f"{out}: error: folder exists, is not empty and is not an index")
        return None
    index = Index.open(out)
    if index.bits != model.bits:
        where = index.where
        index.close()
        raise HashIndexError(
            f"{where}: error: holds {index.bits}-bit codes but the model makes {model.bits}-bit "
            "codes; choose another --out (or ?schema=NAME) or remove the old index"
        )
    return index


def _build_folder(out: Path, model: HashModel, dataset: SceneDataset, meta: dict[str, Any],
                  progress: Progress | None, cluster: ClusterOptions | None) -> Index:
    tmp = out.with_name(f".{out.name}.building-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        with Index.create(tmp, model.bits, **meta) as index:
            _add(index, encode_for_index(model, dataset, progress, cluster))
    except BaseException:  # a full disk, an interrupt: leave nothing half-built behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        out.rmdir()
    os.rename(tmp, out)
    _clear_staging(cluster)
    return Index.open(out)


def _add(index: Index, encoded: Encoded) -> None:
    index.add(encoded.ids, encoded.codes, records=encoded.records, labels=encoded.labels,
              paths=encoded.paths, embeddings=encoded.vectors)
    fields = encoded.manifest
    if encoded.vectors is None:  # keep what made the vectors stored before (if any)
        fields.pop("embedding_source")
        fields.pop("embedding_kind")
    index.update_manifest(**fields)


def _clear_staging(cluster: ClusterOptions | None) -> None:
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
    index = Index.open(index_dir)
    model = load_index_model(index, run_dir)
    dataset = load_dataset(data_dir)
    # the vectors the index already stores come from its own source
    source = index.manifest.get("embedding_source") or VECTOR_SOURCE
    _add(index, encode_for_index(model, dataset, progress, source=source))
    return index, len(dataset)


def dataset_size(data_dir: str | Path) -> int:
    """Items in a dataset folder (for progress bars before encoding starts)."""
    return len(load_dataset(data_dir))


__all__ = ["VECTOR_KIND", "VECTOR_SOURCE", "ClusterOptions", "Encoded", "add_to_index", "build_index",
           "check_model", "database_kind", "dataset_size", "encode_for_index"]
