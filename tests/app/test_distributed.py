"""Dask encoding: same codes as one process, retried partitions, resumed builds, both backends,
and tiles read straight from rasters on the workers."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from terrahash.app.distributed import (
    ClusterOptions,
    encode_distributed,
    encode_partition,
    encode_rasters_distributed,
    encode_tile_partition,
    plan_partitions,
    plan_window_partitions,
)
from terrahash.data import load_dataset
from terrahash.data.scan import scan_archive
from terrahash.data.tiling import TileSpec, plan_scene, tile_record, write_tiles
from terrahash.index import Index
from tests.data._rasters import PARAGUAY_MTL, RASTERS, write_band
from tests.model.conftest import UCM, make_subset
from tests.pg_server import pg_index_uri, pg_server  # noqa: F401 - fixtures

pytest.importorskip("distributed", reason="dask.distributed is not installed")
CLASSES = ("agricultural", "beach", "forest", "harbor", "river", "runway")
BATCH = 8


@pytest.fixture(scope="module")
def subset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """48 UC Merced images (8 of each of 6 classes) listed in a temp manifest."""
    return make_subset(tmp_path_factory.mktemp("ucm96"), per_class=8, classes=CLASSES)


@pytest.fixture(scope="module")
def run(subset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from terrahash.train.run import TrainOptions, train

    folder = tmp_path_factory.mktemp("run")
    train(subset, folder, TrainOptions(epochs=1, bits=32, batch_size=16, image_size=64))
    return folder


@pytest.fixture(scope="module")
def model(run: Path):  # noqa: ANN201 - HashModel
    from terrahash.model import load_model

    loaded = load_model(run)
    loaded.batch_size = BATCH  # small batches, so 48 items make several partitions
    return loaded


def flaky_encode(run_dir: str, data_dir: str, start: int, stop: int, *args: object) -> np.ndarray:
    """Fails the first attempt of every partition (a marker file remembers), then encodes."""
    marker = Path(data_dir) / f"failed-once-{start}"
    if not marker.exists():
        marker.touch()
        raise RuntimeError(f"injected failure of partition {start}:{stop}")
    return encode_partition(run_dir, data_dir, start, stop, *args)  # type: ignore[arg-type]


def test_plan_is_whole_batches() -> None:
    parts = plan_partitions(1000, 64, workers=2)
    assert [(p.start, p.stop) for p in parts] == [(0, 128), (128, 256), (256, 384), (384, 512),
                                                 (512, 640), (640, 768), (768, 896), (896, 1000)]
    assert plan_partitions(10, 256, workers=4) == [range(0, 10)]
    assert plan_partitions(0, 256, workers=4) == []


@pytest.fixture(scope="module")
def raster_scenes(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Two small Landsat-like scenes (160 x 160 and 96 x 128 px): a nodata strip, a cloud mask,
    the real MTL for dates and platform."""
    root = tmp_path_factory.mktemp("rasters")
    rng = np.random.default_rng(3)
    stem = "LC08_L2SP_224078_20200127_20200823_02_"
    for product, shape, origin in ((stem + "T1", (160, 160), (600000, -2870000)),
                                   (stem + "T2", (96, 128), (610000, -2880000))):
        for band in ("SR_B2", "SR_B3", "SR_B4"):
            data = rng.integers(7000, 12000, size=shape, dtype=np.uint16)
            data[:, :40] = 0  # nodata: windows over it are dropped
            write_band(root / f"{product}_{band}.TIF", 32621, origin, data)
        qa = np.full(shape, 21824, dtype=np.uint16)
        qa[:48, 64:] = 22280  # cloud
        write_band(root / f"{product}_QA_PIXEL.TIF", 32621, origin, qa)
    (root / PARAGUAY_MTL).symlink_to(RASTERS / "landsat_paraguay" / PARAGUAY_MTL)
    scenes = scan_archive(root).scenes
    assert len(scenes) == 2
    return scenes


def test_window_partitions_split_scenes_in_reading_order(raster_scenes) -> None:
    jobs = [plan_scene(s, TileSpec(32, (1, 2), stride=16)) for s in raster_scenes]
    # 160 x 160 at stride 16: 10 x 10 level-1 windows + 5 x 5 level-2; 96 x 128: 8 x 6 + 4 x 3
    assert [len(j.windows) for j in jobs] == [125, 60]
    parts = plan_window_partitions(jobs, 100)
    assert [[len(p.windows) for p in part] for part in parts] == [[100], [25, 60]]
    flat = [w for part in parts for p in part for w in p.windows]
    assert flat == [w for j in jobs for w in j.windows]


def test_raster_tiles_on_workers_equal_the_tiling_path(model, run: Path, raster_scenes, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows read on 2 workers give the tiles, records and codes of write_tiles + index build."""
    spec = TileSpec(32, (1, 2), stride=16)
    write_tiles(raster_scenes, tmp_path / "tiles", spec)
    dataset = load_dataset(tmp_path / "tiles")
    single = model.encode_dataset(dataset, kinds=("fused",), batch_size=BATCH)["codes_fused"]
    jobs = [plan_scene(s, spec) for s in raster_scenes]
    options = ClusterOptions(workers=2, partition_size=48)
    rows, codes = encode_rasters_distributed(model, jobs, "fused", options)
    assert 40 < len(rows) < 185  # the nodata strip dropped some windows, not all
    assert [r["id"] for r in rows] == [item.id for item in dataset]
    np.testing.assert_array_equal(codes, single)
    clouds = {r["cloud_cover"] for r in rows}
    assert "0.00" in clouds and "100.00" in clouds  # each tile's own cover, from the mask
    for row, item in zip(rows, dataset, strict=True):
        got = tile_record(row, "x").model_dump(exclude={"source"})
        assert got == item.record.model_dump(exclude={"source"})
    # one open of each raster per scene part of a partition, not one per tile
    import rasterio

    opened: list[str] = []
    real_open = rasterio.open
    monkeypatch.setattr(rasterio, "open",
                        lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    part = plan_window_partitions(jobs, 150)[0]
    part_rows, _ = encode_tile_partition(str(run), part, "image", BATCH)
    assert len(part_rows) > 10 and len(opened) == 4 * len(part) == 8  # 3 bands + the mask, 2 scenes


def test_workers_decode_and_encode_on_one_thread_each(model, raster_scenes) -> None:
    """A worker reading raster windows runs torch and GDAL's decoders on one thread, so one
    worker per core does not oversubscribe (JP2 decoding defaults to every core)."""
    from distributed import Client

    from terrahash.app.distributed import local_cluster

    jobs = [plan_scene(s, TileSpec(32, (1,), stride=32)) for s in raster_scenes]
    cluster = local_cluster(1)
    client = Client(cluster)
    try:
        before = client.run(lambda: __import__("os").environ.get("GDAL_NUM_THREADS"))
        encode_rasters_distributed(model, jobs, "image",
                                   ClusterOptions(scheduler=cluster.scheduler_address))
        threads = client.run(lambda: (__import__("torch").get_num_threads(),
                                      __import__("os").environ.get("GDAL_NUM_THREADS")))
    finally:
        client.close()
        cluster.close()
    assert list(before.values()) != ["1"]
    assert list(threads.values()) == [(1, "1")]


def test_dask_codes_equal_single_process_with_retries_and_resume(
    model, subset: Path, tmp_path: Path
) -> None:
    dataset = load_dataset(subset)
    single = model.encode_dataset(dataset, kinds=("fused",), batch_size=BATCH)["codes_fused"]
    staging = tmp_path / "staging"
    seen: list[int] = []
    options = ClusterOptions(workers=2, partition_size=16, staging=staging, task=flaky_encode)
    codes, report = encode_distributed(model, dataset, "fused", options, progress=seen.append)
    np.testing.assert_array_equal(codes, single)
    assert report == {"encoded": [0, 1, 2], "reused": []}
    assert sum(seen) == len(dataset)
    assert len(list(subset.glob("failed-once-*"))) == 3  # every partition failed once, retried
    # an interrupted build: partition 1 never finished; the rerun encodes only that one
    (staging / "part-00001.npy").unlink()
    codes2, report2 = encode_distributed(model, dataset, "fused",
                                         ClusterOptions(workers=1, partition_size=16,
                                                        staging=staging))
    np.testing.assert_array_equal(codes2, single)
    assert report2 == {"encoded": [1], "reused": [0, 2]}
    # nothing left to do: no cluster is even started
    start = time.perf_counter()
    _, report3 = encode_distributed(model, dataset, "fused",
                                    ClusterOptions(workers=1, partition_size=16, staging=staging))
    assert report3 == {"encoded": [], "reused": [0, 1, 2]}
    assert time.perf_counter() - start < 2.0


def test_failing_partition_gives_a_clear_error(model, subset: Path) -> None:
    from terrahash.index import HashIndexError

    dataset = load_dataset(subset)
    options = ClusterOptions(workers=1, partition_size=16, retries=0, task=flaky_encode)
    for stale in subset.glob("failed-once-*"):
        stale.unlink()
    with pytest.raises(HashIndexError, match=r"partition \d \(items \d+:\d+\) failed"):
        encode_distributed(model, dataset, "fused", options)
    with pytest.raises(HashIndexError, match="--workers must be at least 1"):
        ClusterOptions(workers=0)
    with pytest.raises(HashIndexError, match="expected an address like tcp://"):
        ClusterOptions(scheduler="localhost:8786")


def test_cli_build_with_workers_equals_single_process(
    run: Path, subset: Path, tmp_path: Path, pg_index_uri: str  # noqa: F811
) -> None:
    from terrahash.cli import main

    def build(*args: str) -> None:
        with pytest.raises(SystemExit) as done:
            main(["index", "build", str(run), str(subset), *args])
        assert done.value.code in (0, None)

    build("--out", str(tmp_path / "single"))
    build("--out", str(tmp_path / "dask"), "--workers", "2")
    build("--backend", "postgres", "--dsn", pg_index_uri, "--workers", "1")
    ids = [item.id for item in load_dataset(subset)]
    with Index.open(tmp_path / "single") as single, Index.open(tmp_path / "dask") as dask_built, \
            Index.open(pg_index_uri) as pg:
        want = single.codes_of(ids)
        np.testing.assert_array_equal(dask_built.codes_of(ids), want)
        np.testing.assert_array_equal(pg.codes_of(ids), want)
        assert dask_built.search(want[:5], k=10) == single.search(want[:5], k=10)
        assert pg.search(want[:5], k=10) == single.search(want[:5], k=10)
        assert pg.manifest["code_kind"] == single.manifest["code_kind"]
        vectors = single.embeddings_of(ids)
        assert vectors is not None  # Dask builds store the same re-ranking vectors as one process
        np.testing.assert_array_equal(dask_built.embeddings_of(ids), vectors)
        np.testing.assert_array_equal(pg.embeddings_of(ids), vectors)
    assert not (tmp_path / ".dask.staging").exists()  # cleared once the index holds the codes


@pytest.mark.slow
def test_full_ucmerced_dask_build_equals_single_process(run: Path, tmp_path: Path) -> None:
    """The acceptance check on all 2100 UC Merced images (about a minute per build on 2 cores)."""
    from terrahash.cli import main

    for name, extra in (("single", []), ("dask", ["--workers", "2"])):
        with pytest.raises(SystemExit) as done:
            main(["index", "build", str(run), str(UCM), "--out", str(tmp_path / name), *extra])
        assert done.value.code in (0, None)
    ids = [item.id for item in load_dataset(UCM)]
    with Index.open(tmp_path / "single") as single, Index.open(tmp_path / "dask") as built:
        assert len(built) == len(single) == 2100
        np.testing.assert_array_equal(built.codes_of(ids), single.codes_of(ids))
