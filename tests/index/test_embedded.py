"""The on-disk index: API round trips, filters against brute force, atomicity, clear errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import terrahash
from terrahash.index import CorruptIndexError, Filters, HashIndexError, index_exists
from terrahash.metadata.record import SceneRecord, polygon
from tests.index.helpers import clustered_codes, random_codes, reference_search

PLATFORMS = ["sentinel-2a", "landsat-8", "gf-2"]


def make_records(n: int, seed: int) -> list[SceneRecord]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        lon, lat = rng.uniform(-170, 170), rng.uniform(-80, 80)
        out.append(
            SceneRecord(
                id=f"r{i}",
                platform=PLATFORMS[i % 3],
                datetime=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
                + dt.timedelta(days=int(rng.integers(0, 1000))),
                footprint=polygon([(lon, lat), (lon + 1, lat), (lon + 1, lat + 1), (lon, lat + 1)]),
                gsd_m=float(rng.choice([0.5, 10.0, 30.0])),
                cloud_cover=None if i % 7 == 0 else float(rng.uniform(0, 100)),
            )
        )
    return out


@pytest.fixture
def filled(tmp_path: Path) -> tuple[terrahash.Index, np.ndarray, list[SceneRecord], list[str]]:
    codes, which = clustered_codes(600, 64, 6, 0.1, 4)
    records = make_records(600, 4)
    labels = [f"class{w}" for w in which]
    index = terrahash.Index.create(tmp_path / "idx", bits=64)
    ids = [f"item{i:04d}" for i in range(600)]
    index.add(ids[:400], codes[:400], records=records[:400], labels=labels[:400])
    index.add(ids[400:], codes[400:], records=records[400:], labels=labels[400:])
    return index, codes, records, labels


def brute_force(records: list[SceneRecord], labels: list[str], f: Filters) -> np.ndarray:
    keep = []
    for i, r in enumerate(records):
        ok = True
        if f.bbox is not None:
            w, s, e, n = f.bbox
            bw, bs, be, bn = r.bbox
            lon_ok = (be >= w and bw <= e) if w <= e else (be >= w or bw <= e)
            ok &= lon_ok and bn >= s and bs <= n
        if f.start is not None:
            ok &= r.datetime >= f.start
        if f.end is not None:
            ok &= r.datetime <= f.end
        if f.platforms:
            ok &= r.platform in f.platforms
        if f.gsd_min is not None:
            ok &= r.gsd_m >= f.gsd_min
        if f.gsd_max is not None:
            ok &= r.gsd_m <= f.gsd_max
        if f.cloud_max is not None:
            ok &= r.cloud_cover is not None and r.cloud_cover <= f.cloud_max
        if f.labels:
            ok &= labels[i] in f.labels
        if ok:
            keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def test_search_equals_reference_and_round_trips(filled, tmp_path: Path) -> None:
    index, codes, _, _ = filled
    queries = np.concatenate([codes[:3], random_codes(3, 64, 1)])
    ref_d, ref_r = reference_search(codes, queries, 25)
    for reopened in (index, terrahash.Index.open(tmp_path / "idx")):
        ids, dists = reopened.search(queries, k=25)
        assert len(reopened) == 600
        assert ids == [[f"item{j:04d}" for j in row] for row in ref_r]
        assert dists == ref_d.tolist()
    tree_ids = index.backend.search_tree(queries, k=25).ids
    assert tree_ids == ids


@pytest.mark.parametrize(
    "flt",
    [
        {"bbox": (-60, -30, 40, 50)},
        {"bbox": "170,-80,-100,80"},  # crosses the antimeridian
        {"start": "2021-01-01", "end": "2021-06-30T23:59:59Z"},
        {"platforms": ["Sentinel-2A", "gf-2"]},
        {"gsd_min": 5, "gsd_max": 20},
        {"cloud_max": 30},
        {"labels": ["class1", "class4"]},
        {"bbox": (-100, -60, 100, 60), "start": "2020-06-01", "cloud_max": 80, "platforms": "landsat-8"},
    ],
)
def test_filters_equal_brute_force(filled, flt: dict) -> None:
    from terrahash.index.filters import normalize_filters

    index, codes, records, labels = filled
    keep = brute_force(records, labels, normalize_filters(flt))
    queries = random_codes(3, 64, 5)
    ref_d, ref_r = reference_search(codes[keep], queries, 15)
    ids, dists = index.search(queries, k=15, filters=flt)
    for i in range(3):
        valid = ref_r[i] >= 0
        assert ids[i] == [f"item{keep[j]:04d}" for j in ref_r[i][valid]]
        assert dists[i] == ref_d[i][valid].tolist()
    result = index.query(queries[:1], k=15, filters=Filters(**normalize_filters(flt).__dict__))
    assert result.scanned == [len(keep)] and result.ids[0] == ids[0]


def test_upsert_remove_and_reopen(filled, tmp_path: Path) -> None:
    index, codes, records, _ = filled
    new_code = np.full((1, 8), 0xFF, np.uint8)
    index.add(["item0005"], new_code, records=[records[0]], labels=["moved"])
    assert len(index) == 600
    ids, dists = index.search(new_code, k=1)
    assert ids == [["item0005"]] and dists == [[0]]
    assert index.get(["item0005"])[0].labels == ("moved",)
    assert index.remove(["item0005", "item0006", "missing"]) == 2
    again = terrahash.Index.open(tmp_path / "idx")
    assert len(again) == 598 and again.get(["item0006"]) == [None]
    keep = np.array([i for i in range(600) if i not in (5, 6)])
    ref_d, ref_r = reference_search(codes[keep], codes[:2], 30)
    ids, dists = again.search(codes[:2], k=30)
    assert ids == [[f"item{keep[j]:04d}" for j in row] for row in ref_r] and dists == ref_d.tolist()
    approx_ids, _ = again.search(codes[:2], k=30, exact=False, nprobe=1000)
    assert approx_ids == ids


def test_empty_index_and_bad_arguments(tmp_path: Path) -> None:
    index = terrahash.Index.create(tmp_path / "e", bits=128)
    assert len(index) == 0
    assert index.search(random_codes(2, 128, 0), k=5) == ([[], []], [[], []])
    with pytest.raises(ValueError, match=r"expected 16-byte codes \(128 bits\), got 8"):
        index.add(["a"], random_codes(1, 64, 0))
    with pytest.raises(ValueError, match="expected 16-byte codes"):
        index.search(random_codes(1, 64, 0))
    with pytest.raises(ValueError, match="appears more than once"):
        index.add(["a", "a"], random_codes(2, 128, 0))
    with pytest.raises(ValueError, match="k must be a positive"):
        index.search(random_codes(1, 128, 0), k=0)
    with pytest.raises(ValueError, match="unknown filter key"):
        index.search(random_codes(1, 128, 0), filters={"cloud": 3})
    with pytest.raises(HashIndexError, match="already exists"):
        terrahash.Index.create(tmp_path / "e", bits=128)


def test_corrupt_index_gives_clear_errors(filled, tmp_path: Path) -> None:
    root = tmp_path / "idx"
    manifest = json.loads((root / "manifest.json").read_text())
    gen = root / manifest["generation"]
    (gen / "catalog.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(CorruptIndexError, match="catalog.sqlite: error: holds 2100 bytes, but"):
        terrahash.Index.open(root)  # the manifest's checksums record the size written
    # an index written before checksums: the files' own checks name the fault
    del manifest["checksums"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CorruptIndexError, match="catalog.sqlite is not a readable database"):
        terrahash.Index.open(root)
    (gen / "codes.npy").unlink()
    with pytest.raises(CorruptIndexError, match="unreadable"):
        terrahash.Index.open(root)
    (root / "manifest.json").write_text("{broken")
    with pytest.raises(CorruptIndexError, match="manifest is not valid JSON"):
        terrahash.Index.open(root)
    with pytest.raises(CorruptIndexError, match="not a TerraHash index"):
        terrahash.Index.open(tmp_path)


_WRITER = """
import sys, numpy as np, terrahash
index = terrahash.Index.open(sys.argv[1])
rng = np.random.default_rng(0)
n = 120_000
codes = rng.integers(0, 256, (n, 8), dtype=np.uint8)
index.add([f"new{i}" for i in range(n)], codes, labels=[f"l{i % 50}" for i in range(n)])
"""


def test_killed_write_leaves_previous_index_intact(filled, tmp_path: Path) -> None:
    index, codes, _, _ = filled
    root = tmp_path / "idx"
    before = index.search(codes[:3], k=10)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root)], env={**os.environ})
    deadline = time.time() + 120
    while not list(root.glob("g*.tmp")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(0.3)  # well inside the write of the new generation
    assert proc.poll() is None, "writer finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reopened = terrahash.Index.open(root)
    assert len(reopened) == 600
    assert reopened.search(codes[:3], k=10) == before
    reopened.add(["after"], codes[:1])  # the next writer clears the debris and commits
    assert len(terrahash.Index.open(root)) == 601 and not list(root.glob("g*.tmp"))


def test_replace_all_update_manifest_and_exists(filled, tmp_path: Path) -> None:
    index, codes, records, labels = filled
    root = tmp_path / "idx"
    assert index_exists(root) and not index_exists(tmp_path / "nothing-here")
    assert index.where == str(root)
    index.replace_all(["x", "y"], codes[:2], records[:2], labels[:2], code_kind="fused", dataset="d")
    again = terrahash.Index.open(root)
    assert len(again) == 2 and again.manifest["code_kind"] == "fused" and again.manifest["dataset"] == "d"
    assert again.search(codes[1], k=1) == ([["y"]], [[0]])
    assert again.get(["item0000"]) == [None] and again.get(["x"])[0].labels == (labels[0],)
    again.update_manifest(model={"run": "r"})
    assert terrahash.Index.open(root).manifest["model"] == {"run": "r"}
