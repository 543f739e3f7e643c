"""Dask encoding: same codes as one process, retried partitions, resumed builds, both backends."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from terrahash.app.distributed import (
    ClusterOptions,
    encode_distributed,
    encode_partition,
    plan_partitions,
)
from terrahash.data import load_dataset
from terrahash.index import Index
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
