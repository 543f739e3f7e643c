"""Distributed encoding with Dask: partitions of a dataset -> codes on workers -> one array.

Each partition is a run of whole model batches, so every image is encoded in exactly the
batch it would meet in a single-process build, and the codes come out identical. Workers load
the model and the dataset once (``functools.cache`` lives as long as the worker process) and
run torch on one thread: the workers are the parallelism. Finished partitions are saved in a
staging folder keyed by the model, the data and the partitioning; a rerun after a crash or a
kill skips them, and failed tasks are retried.

Large rasters need no tile files: ``encode_rasters_distributed`` sends each worker runs of
tile windows (raster paths, windows, the scene's stretch), and the worker opens each raster
once per partition, reads its windows and encodes them as ``write_tiles`` would have cut them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from terrahash.app.models import model_fingerprint
from terrahash.data import SceneDataset, load_dataset
from terrahash.data.tiling import SceneWindows, read_tiles, tile_record
from terrahash.errors import lazy_import
from terrahash.index import HashIndexError, is_postgres_uri
from terrahash.model import HashModel, load_model

Progress = Callable[[int], None]
#: Partitions per worker when no size is given: enough to balance, few enough to be cheap.
PARTITIONS_PER_WORKER = 4
#: Fewest windows in a raster partition when no size is given: a task must outweigh its
#: scheduling, its transfer and the raster opens it starts with.
MIN_WINDOWS_PER_PARTITION = 1024


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


def _one_thread_on_worker() -> None:
    """On a Dask worker, torch and GDAL's decoders run on one thread each: one worker process
    per core is the parallelism, and workers each spreading over every core would only contend.

    GDAL's JPEG 2000 driver decodes on every core by default (``GDAL_NUM_THREADS=ALL_CPUS``):
    a "single-threaded" worker reading Sentinel-2 JP2 windows used 1.3 cores, so two workers
    on two cores fought over them. Set before the first read of each task; GDAL reads the
    variable at each decode.
    """
    try:
        from distributed import get_worker

        get_worker()
    except (ImportError, ValueError):  # not on a worker: leave the caller's threads alone
        return
    import torch

    torch.set_num_threads(1)
    os.environ["GDAL_NUM_THREADS"] = "1"


@functools.cache
def _model(run_dir: str) -> HashModel:
    _one_thread_on_worker()
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


#: Dask settings of the local workers. Dask makes workers return freed memory to the OS at
#: 64 KiB (``MALLOC_TRIM_THRESHOLD_``), which also turns off glibc's adaptive mmap threshold:
#: every batch's arrays are then mapped and unmapped afresh, and reading + encoding tiles
#: spent about 25 % more CPU (in the kernel) than in a plain process. Workers keep glibc's
#: defaults (a value set in the environment still wins).
LOCAL_WORKER_CONFIG: dict[str, Any] = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def local_cluster(workers: int) -> Any:
    """A ``LocalCluster`` of ``workers`` processes of one thread each, set up for encoding."""
    distributed = lazy_import("distributed", "distributed")
    dask = lazy_import("dask", "distributed")
    with dask.config.set(LOCAL_WORKER_CONFIG):
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )


def _client(options: ClusterOptions) -> tuple[Any, Any]:
    distributed = lazy_import("distributed", "distributed")
    if options.scheduler:
        try:
            return distributed.Client(options.scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise HashIndexError(
                f"--scheduler {options.scheduler}: error: cannot reach the scheduler ({exc})"
            ) from exc
    cluster = local_cluster(options.workers or 1)
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
    task = options.task or encode_partition
    calls = {
        i: (str(model.run_dir), str(dataset.root), parts[i].start, parts[i].stop, kind, model.batch_size,
            ids[parts[i].start : parts[i].stop], *([vector] if vector is not None else []))
        for i in todo
    }
    for i, codes in _run_partitions(task, calls, options, dataset.root,
                                    {i: f"items {parts[i].start}:{parts[i].stop}" for i in todo}):
        results[i] = np.asarray(codes, np.uint8)
        if staging:
            staging.save(i, results[i])
        if progress:
            progress(len(parts[i]))
    nbytes = model.bits // 8
    codes = (
        np.concatenate([results[i] for i in range(len(parts))]) if parts else np.zeros((0, nbytes), np.uint8)
    )
    return codes, {"encoded": todo, "reused": [i for i in range(len(parts)) if i not in todo]}


def _run_partitions(
    task: Callable[..., Any], calls: dict[int, tuple[Any, ...]], options: ClusterOptions, source: Path | str,
    what: dict[int, str],
) -> Iterator[tuple[int, Any]]:
    """``(i, task(*calls[i]))`` for every partition, as they finish on the cluster.

    Raises:
        HashIndexError: a partition still failed after its retries (naming ``what[i]``).
    """
    if not calls:
        return
    distributed = lazy_import("distributed", "distributed")
    client, cluster = _client(options)
    try:
        futures = {
            client.submit(task, *args, retries=options.retries, pure=False,
                          key=f"terrahash-encode-{i}-{os.getpid()}"): i
            for i, args in calls.items()
        }
        for future in distributed.as_completed(futures):
            i = futures[future]
            try:
                result = future.result()
            except HashIndexError:
                raise
            except Exception as exc:
                raise HashIndexError(
                    f"{source}: error: partition {i} ({what[i]}) failed after "
                    f"{options.retries} retries: {exc}"
                ) from exc
            yield i, result
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def plan_window_partitions(jobs: Sequence[SceneWindows], size: int) -> list[list[SceneWindows]]:
    """Runs of ``size`` windows in reading order (the last shorter), each a list of scene
    parts; a scene split between partitions is opened once in each."""
    if size < 1:
        raise HashIndexError(f"partition size must be at least 1 window, got {size}")
    parts: list[list[SceneWindows]] = []
    current: list[SceneWindows] = []
    room = size
    for job in jobs:
        start = 0
        while start < len(job.windows):
            take = min(room, len(job.windows) - start)
            current.append(job.part(start, start + take))
            start, room = start + take, room - take
            if room == 0:
                parts.append(current)
                current, room = [], size
    if current:
        parts.append(current)
    return parts


def raster_partition_size(windows: int, batch_size: int, workers: int, size: int | None = None) -> int:
    """Windows per partition: ``size``, else a share of ``PARTITIONS_PER_WORKER`` per worker
    but at least ``MIN_WINDOWS_PER_PARTITION``; whole model batches either way."""
    if size is None:
        size = max(MIN_WINDOWS_PER_PARTITION, -(-windows // max(1, workers * PARTITIONS_PER_WORKER)))
    return max(batch_size, -(-size // batch_size) * batch_size)


def encode_tile_partition(
    run_dir: str,
    jobs: Sequence[SceneWindows],
    kind: str,
    batch_size: int,
    vector: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """(manifest rows, code rows) of the tiles kept in ``jobs`` (runs on a worker, or in
    process for a single-process baseline: the same reads, stretch, records and batches).

    Each scene part's rasters are opened once; tiles below the valid-pixel threshold are
    dropped as ``write_tiles`` drops them. Rows carry re-ranking vectors as in ``encode_partition``.
    """
    if kind not in ("image", "fused"):
        raise HashIndexError(f"raster tiles are encoded as 'image' or 'fused' codes, not {kind!r}")
    _one_thread_on_worker()
    tiles = [tile for job in jobs for tile in read_tiles(job)]
    images = [np.repeat(t.image, 3, axis=2) if t.image.shape[2] == 1 else t.image for t in tiles]
    records = [tile_record(t.row, source=t.row["path"]) for t in tiles] if kind == "fused" else None
    model = _model(run_dir)
    model.batch_size = batch_size
    rows = [t.row for t in tiles]
    if vector is None:
        return rows, model.encode_images(images, records)
    if vector[0] != kind:
        raise HashIndexError(
            f"raster tiles carry re-ranking vectors of their code kind {kind!r}, not {vector[0]!r}"
        )
    codes, vectors = model.encode_images_and_vectors(images, records, vector[1])
    return rows, np.concatenate([codes, np.ascontiguousarray(vectors, np.float32).view(np.uint8)], axis=1)


def encode_rasters_distributed(
    model: HashModel,
    jobs: Sequence[SceneWindows],
    kind: str,
    options: ClusterOptions,
    progress: Progress | None = None,
    vector: tuple[str, str] | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Encode the tiles of ``jobs`` (from ``plan_scene``) on a Dask cluster, reading the
    rasters on the workers; returns (manifest rows, code rows) in window order.

    The rows are the ones ``write_tiles`` writes (``tile_record`` makes their records), and
    the codes those of the written tiles: partitions are whole batches of windows, and the
    windows a worker drops shift its batches, which leaves the codes unchanged (each item's
    code depends on its own pixels and record only; the tests and the benchmark compare them
    bit for bit). ``progress(n)`` is called per finished partition with the windows it
    covered. No staging: a failed partition is retried, not resumed.
    """
    windows = sum(len(job.windows) for job in jobs)
    size = raster_partition_size(windows, model.batch_size, options.workers or 1, options.partition_size)
    parts = plan_window_partitions(jobs, size)
    task = options.task or encode_tile_partition
    calls = {i: (str(model.run_dir), part, kind, model.batch_size, *([vector] if vector else []))
             for i, part in enumerate(parts)}
    what = {i: f"{sum(len(j.windows) for j in part)} windows of "
               f"{', '.join(dict.fromkeys(j.scene.scene_id for j in part))}" for i, part in enumerate(parts)}
    source = jobs[0].scene.bands[0].path.parent if jobs else "rasters"
    results: dict[int, tuple[list[dict[str, Any]], np.ndarray]] = {}
    for i, (rows, codes) in _run_partitions(task, calls, options, source, what):
        results[i] = rows, np.asarray(codes, np.uint8)
        if progress:
            progress(sum(len(j.windows) for j in parts[i]))
    rows_out = [row for i in range(len(parts)) for row in results[i][0]]
    width = model.bits // 8
    codes_out = (np.concatenate([results[i][1] for i in range(len(parts))]) if parts
                 else np.zeros((0, width), np.uint8))
    return rows_out, codes_out
