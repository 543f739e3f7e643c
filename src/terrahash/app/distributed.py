"""Distributed encoding with Dask: partitions of a dataset -> codes on workers -> one array.

Each partition is a run of whole model batches, so every image is encoded in exactly the
batch it would meet in a single-process build, and the codes come out identical. Workers load
the model and the dataset once (``functools.cache`` lives as long as the worker process).
Finished partitions are saved in a staging folder keyed by the model, the data and the
partitioning; a rerun after a crash or a kill skips them, and failed tasks are retried.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.app.models import model_fingerprint
from terrahash.data import SceneDataset, load_dataset
from terrahash.errors import lazy_import
from terrahash.index import HashIndexError, is_postgres_uri
from terrahash.model import HashModel, load_model

Progress = Callable[[int], None]
#: Partitions per worker when no size is given: enough to balance, few enough to be cheap.
PARTITIONS_PER_WORKER = 4


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how to encode: a local cluster of ``workers`` processes or a scheduler."""

    workers: int | None = None
    #: ``tcp://HOST:PORT`` of a running scheduler; workers must see the run and data paths.
    scheduler: str | None = None
    #: Items per partition, rounded up to whole model batches (default: from the worker count).
    partition_size: int | None = None
    #: Extra attempts for a failed partition (``dask``'s ``retries=``).
    retries: int = 2
    #: Where finished partitions are kept until the index is written (None: no resume).
    staging: Path | None = None
    #: Called on a worker as ``task(run_dir, data_dir, start, stop, kind, batch_size, ids)``.
    task: Callable[..., np.ndarray] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise HashIndexError(f"--workers must be at least 1, got {self.workers}")
        if self.scheduler is not None and not self.scheduler.startswith(("tcp://", "tls://", "inproc://")):
            raise HashIndexError(f"--scheduler {self.scheduler!r}: expected an address like tcp://HOST:8786")


@functools.cache
def _model(run_dir: str) -> HashModel:
    return load_model(run_dir)


@functools.cache
def _dataset(data_dir: str) -> SceneDataset:
    return load_dataset(data_dir)


def encode_partition(
    run_dir: str,
    data_dir: str,
    start: int,
    stop: int,
    kind: str,
    batch_size: int,
    ids: Sequence[str],
    vector: tuple[str, str] | None = None,
) -> np.ndarray:
    """Codes of items ``start:stop`` (runs on a worker; the model is loaded once per process).

    With ``vector = (kind, source)`` each row also carries that item's re-ranking vector as
    float32 bytes after the code (one array, so staging and transfer stay unchanged);
    ``split_rows`` separates them again.
    """
    dataset = _dataset(data_dir)
    part = dataset.subset(range(start, min(stop, len(dataset))))
    found = [item.id for item in part]
    if found != list(ids):
        raise HashIndexError(
            f"{data_dir}: error: the worker sees different items at {start}:{stop} than the "
            "client (is the same dataset mounted at the same path on every worker?)"
        )
    model = _model(run_dir)
    kinds = (kind,) if vector is None else tuple(dict.fromkeys((kind, vector[0])))
    out = model.encode_dataset(part, kinds=kinds, batch_size=batch_size)
    codes = out[f"codes_{kind}"]
    if vector is None:
        return codes
    vectors = np.ascontiguousarray(model.rerank_vectors(out[f"emb_{vector[0]}"], vector[1]), np.float32)
    return np.concatenate([codes, vectors.view(np.uint8)], axis=1)


def split_rows(rows: np.ndarray, code_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes, float32 vectors) of rows written by ``encode_partition`` with a ``vector``."""
    codes = np.ascontiguousarray(rows[:, :code_bytes])
    return codes, np.ascontiguousarray(rows[:, code_bytes:]).view(np.float32)


def plan_partitions(n: int, batch_size: int, workers: int, size: int | None = None) -> list[range]:
    """Consecutive ranges covering ``0..n``, each a whole number of batches (but the last)."""
    if size is None:
        size = -(-n // max(1, workers * PARTITIONS_PER_WORKER))
    size = max(batch_size, -(-size // batch_size) * batch_size)
    return [range(s, min(s + size, n)) for s in range(0, n, size)]


class Staging:
    """Finished partitions on disk (``part-00003.npy``), valid only for one exact plan."""

    def __init__(self, root: Path, key: str) -> None:
        self.root = root
        plan = root / "plan.json"
        if root.exists() and (not plan.is_file() or json.loads(plan.read_text()).get("key") != key):
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        if not plan.is_file():
            tmp = plan.with_suffix(".tmp")
            tmp.write_text(json.dumps({"key": key}))
            os.replace(tmp, plan)

    def _path(self, i: int) -> Path:
        return self.root / f"part-{i:05d}.npy"

    def load(self, i: int, rows: int) -> np.ndarray | None:
        path = self._path(i)
        if not path.is_file():
            return None
        try:
            codes = np.load(path)
        except (OSError, ValueError):
            return None
        return codes if codes.shape[0] == rows else None

    def save(self, i: int, codes: np.ndarray) -> None:
        tmp = self._path(i).with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            np.save(fh, codes)
        os.replace(tmp, self._path(i))

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def staging_dir_for(out: str | Path) -> Path:
    """Default staging folder: beside an index folder, or per database URI in the user cache."""
    text = str(out)
    if is_postgres_uri(text):
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return cache / "terrahash" / "staging" / digest
    path = Path(out)
    return path.with_name(f".{path.name}.staging")


def _plan_key(model: HashModel, ids: Sequence[str], kind: str, parts: list[range],
              vector: tuple[str, str] | None) -> str:
    digest = hashlib.sha256()
    digest.update(model_fingerprint(model.run_dir).encode())
    digest.update(f"{kind}|{vector}|{model.batch_size}|{[(p.start, p.stop) for p in parts]}".encode())
    for item_id in ids:
        digest.update(item_id.encode() + b"\0")
    return digest.hexdigest()


def _client(options: ClusterOptions) -> tuple[Any, Any]:
    distributed = lazy_import("distributed", "distributed")
    if options.scheduler:
        try:
            return distributed.Client(options.scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise HashIndexError(
                f"--scheduler {options.scheduler}: error: cannot reach the scheduler ({exc})"
            ) from exc
    cluster = distributed.LocalCluster(
        n_workers=options.workers or 1,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return distributed.Client(cluster), cluster


def encode_distributed(
    model: HashModel,
    dataset: SceneDataset,
    kind: str,
    options: ClusterOptions,
    progress: Progress | None = None,
    vector: tuple[str, str] | None = None,
) -> tuple[np.ndarray, dict[str, list[int]]]:
    """Encode ``dataset`` on a Dask cluster; returns (rows in dataset order, partition report).

    Rows are the packed codes, followed by each item's re-ranking vector when ``vector =
    (kind, source)`` is given (``split_rows`` separates them). The report lists the
    partitions ``encoded`` now and those ``reused`` from staging.
    """
    ids = [item.id for item in dataset]
    n_workers = options.workers or 1
    parts = plan_partitions(len(ids), model.batch_size, n_workers, options.partition_size)
    key = _plan_key(model, ids, kind, parts, vector)
    staging = Staging(options.staging, key) if options.staging else None
    results: dict[int, np.ndarray] = {}
    for i, part in enumerate(parts):
        done = staging.load(i, len(part)) if staging else None
        if done is not None:
            results[i] = done
            if progress:
                progress(len(part))
    todo = [i for i in range(len(parts)) if i not in results]
    if todo:
        distributed = lazy_import("distributed", "distributed")
        client, cluster = _client(options)
        try:
            task = options.task or encode_partition
            futures = {
                client.submit(
                    task,
                    str(model.run_dir),
                    str(dataset.root),
                    parts[i].start,
                    parts[i].stop,
                    kind,
                    model.batch_size,
                    ids[parts[i].start : parts[i].stop],
                    *([vector] if vector is not None else []),
                    retries=options.retries,
                    pure=False,
                    key=f"terrahash-encode-{i}-{os.getpid()}",
                ): i
                for i in todo
            }
            for future in distributed.as_completed(futures):
                i = futures[future]
                try:
                    codes = future.result()
                except HashIndexError:
                    raise
                except Exception as exc:
                    raise HashIndexError(
                        f"{dataset.root}: error: partition {i} (items {parts[i].start}:"
                        f"{parts[i].stop}) failed after {options.retries} retries: {exc}"
                    ) from exc
                results[i] = np.asarray(codes, np.uint8)
                if staging:
                    staging.save(i, results[i])
                if progress:
                    progress(len(parts[i]))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    nbytes = model.bits // 8
    codes = (
        np.concatenate([results[i] for i in range(len(parts))]) if parts else np.zeros((0, nbytes), np.uint8)
    )
    return codes, {"encoded": todo, "reused": [i for i in range(len(parts)) if i not in todo]}
