"""A disk that fills up while a new generation is written leaves the previous index whole.

The real write path is exercised: a child process rebuilds the index (``replace_all``, what
``terrahash index build`` does to an existing index) under ``RLIMIT_FSIZE``, so the kernel
refuses the write that would grow a file past the cap (``EFBIG``), whichever layer writes it
(SQLite for the catalog, NumPy for the arrays). An in-process ``ENOSPC`` checks the wording
of a full disk proper and that the writer's own index object stays usable.
"""

from __future__ import annotations

import errno
import json
import resource
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import HashIndexError, Index
from terrahash.index.embedded import storage
from tests.index.helpers import random_codes

N, BITS, DIM = 600, 64, 256
QUERIES = random_codes(5, BITS, seed=7)


def _items(seed: int) -> tuple[list[str], np.ndarray, list[dict], list[list[str]], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = [f"s{seed}-{i:04d}" for i in range(N)]
    records = [{"platform": "sentinel-2a", "cloud_cover": float(i % 100),
                "datetime": f"2021-0{1 + i % 9}-1{i % 10}T10:00:00Z"} for i in range(N)]
    labels = [["forest" if i % 2 else "river"] for i in range(N)]
    embeddings = rng.standard_normal((N, DIM)).astype(np.float32)
    return ids, random_codes(N, BITS, seed), records, labels, embeddings


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One index (two generations: created, then filled) that each test copies."""
    root = tmp_path_factory.mktemp("full_disk") / "index"
    ids, codes, records, labels, embeddings = _items(seed=1)
    with Index.create(root, bits=BITS) as index:
        index.add(ids, codes, records=records, labels=labels, embeddings=embeddings)
    return root


def _copy(built: Path, root: Path) -> Index:
    shutil.copytree(built, root)
    return Index.open(root)


def _answers(index: Index) -> tuple[list, list, list]:
    ids, dists = index.search(QUERIES, k=10)
    filtered = index.search(QUERIES, k=10, filters={"labels": ["forest"], "cloud_max": 50})
    return ids, dists, filtered[0]


CHILD = textwrap.dedent("""
    import resource, signal, sys
    from terrahash.index import HashIndexError, Index
    from tests.index.test_full_disk import _items
    cap = int(sys.argv[2])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write(), not a killed process
    index = Index.open(sys.argv[1])
    ids, codes, records, labels, embeddings = _items(seed=2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
    try:
        index.replace_all(ids, codes, embeddings=embeddings)  # no records: a small catalog
    except HashIndexError as exc:
        print(exc)
        sys.exit(3)
""")


def _file_sizes(gen: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in gen.iterdir()}


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE (POSIX)")
@pytest.mark.parametrize("where", ["catalog.sqlite", "embeddings.npy"])
def test_build_on_a_full_disk_keeps_the_previous_index(tmp_path: Path, built: Path, where: str) -> None:
    root = tmp_path / "index"
    index = _copy(built, root)
    before = _answers(index)
    manifest = json.loads((root / "manifest.json").read_text())
    sizes = _file_sizes(root / manifest["generation"])
    # a cap the catalog cannot fit under, or one the new (record-less) catalog fits under but
    # the embeddings do not
    cap = 8192 if where == "catalog.sqlite" else 140_000
    assert cap < sizes["embeddings.npy"]
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), str(cap)], capture_output=True,
                          text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 3, done.stderr[-2000:]
    message = done.stdout.strip()
    # SQLite reports a refused write as an I/O error (it says "disk is full" only for ENOSPC)
    why = "catalog: disk I/O error" if where == "catalog.sqlite" else "no space: file size limit reached"
    assert message.startswith(f"{root}: error: cannot write generation g000003: {why}"), message
    assert f"still holds generation {manifest['generation']}" in message
    if where == "embeddings.npy":  # the file the write failed in
        assert f"({root}/g000003.tmp/embeddings.npy)" in message
    assert "Traceback" not in done.stderr
    # nothing half-written is left, and the manifest still names the previous generation
    assert sorted(p.name for p in root.iterdir()) == sorted([manifest["generation"], "manifest.json"])
    assert json.loads((root / "manifest.json").read_text()) == manifest
    assert _answers(index) == before  # the index opened before keeps answering
    index.close()
    with Index.open(root) as again:  # and so does a fresh open (its checksums still match)
        assert _answers(again) == before


def test_no_space_error_is_clear_and_the_writer_stays_usable(
    tmp_path: Path, built: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = _copy(built, tmp_path / "index")
    before = _answers(index)
    real_save = storage.save_npy

    def full_disk(path: Path, array: np.ndarray) -> None:
        if path.name == "codes.npy":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(path, array)

    monkeypatch.setattr(storage, "save_npy", full_disk)
    ids, codes, records, labels, embeddings = _items(seed=2)
    with pytest.raises(HashIndexError, match=r"error: cannot write generation g000003: no space left "
                       r"on device \(.*g000003.tmp/codes.npy\); the index still holds generation g000002"):
        index.add(ids, codes, records=records, labels=labels, embeddings=embeddings)
    assert not list((tmp_path / "index").glob("*.tmp"))
    assert _answers(index) == before and len(index) == N
    monkeypatch.setattr(storage, "save_npy", real_save)  # space again: the next write succeeds
    index.add(ids, codes, records=records, labels=labels, embeddings=embeddings)
    assert len(index) == 2 * N
    index.close()
