"""An index written by the previous release (format 1, before the store was split by concern
and before embeddings) opens, answers exactly as it did then, says it cannot re-rank, and
accepts writes, which migrate it to format 2 (embeddings beside the codes).

The fixture was written by commit 9c84559's ``terrahash.Index`` (40 items with records,
labels and paths) together with that code's results for three queries, unfiltered and
filtered.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import CorruptIndexError, Index
from terrahash.index.embedded.storage import FORMAT_VERSION

FIXTURES = Path(__file__).parents[1] / "fixtures"


@pytest.fixture()
def previous(tmp_path: Path) -> Path:
    copy = tmp_path / "index-previous"
    shutil.copytree(FIXTURES / "index-previous", copy)
    return copy


def test_previous_index_answers_as_before(previous: Path) -> None:
    spec = json.loads((FIXTURES / "index-previous-expected.json").read_text())
    queries = np.array(spec["queries"], dtype=np.uint8)
    with Index.open(previous) as index:
        assert len(index) == 40 and index.bits == 64
        for name, filters in spec["filters"].items():
            ids, distances = index.search(queries, k=10, filters=filters)
            assert ids == spec["expected"][name]["ids"], name
            assert distances == spec["expected"][name]["distances"], name
            # asked to re-rank, an index without embeddings answers in Hamming order
            reranked = index.query(queries, k=10, filters=filters, embeddings=np.ones((3, 16)))
            assert (reranked.ids, reranked.distances) == (ids, distances), name
            assert reranked.scores == [[None] * len(r) for r in ids]
        info = index.info()
        assert info["format_version"] == 1 and info["embeddings"]["rerank"] is False
        assert "no embeddings stored" in info["embeddings"]["note"]
        assert index.embeddings_of(["scene05"]) is None
        row = index.get(["scene05"])[0]
        assert row is not None and row.path == "img/scene05.png" and row.labels == ("river",)
        assert row.record is not None and row.record["platform"] == "landsat-8"


def test_previous_index_takes_new_items(previous: Path) -> None:
    spec = json.loads((FIXTURES / "index-previous-expected.json").read_text())
    queries = np.array(spec["queries"], dtype=np.uint8)
    with Index.open(previous) as index:
        index.add(["new0"], np.full((1, 8), 255, dtype=np.uint8), labels=["forest"])
    with Index.open(previous) as index:
        assert len(index) == 41
        ids, _ = index.search(np.full((1, 8), 255, dtype=np.uint8), k=1)
        assert ids == [["new0"]]
        ids, _ = index.search(queries, k=10)
        for found, before in zip(ids, spec["expected"]["none"]["ids"], strict=True):
            kept = [i for i in found if i != "new0"]
            assert kept == before[: len(kept)]  # the old ranking, with the new item slotted in


def test_a_write_migrates_to_the_current_format(previous: Path) -> None:
    spec = json.loads((FIXTURES / "index-previous-expected.json").read_text())
    queries = np.array(spec["queries"], dtype=np.uint8)
    with Index.open(previous) as index:
        index.add(["new0", "new1"], np.full((2, 8), 255, dtype=np.uint8), embeddings=np.eye(2, 16))
    with Index.open(previous) as index:
        assert index.manifest["format_version"] == FORMAT_VERSION == 2
        embeddings = index.info()["embeddings"]
        assert embeddings["dim"] == 16 and embeddings["items"] == 2 and embeddings["rerank"]
        assert (previous / index.manifest["generation"] / "embeddings.npy").is_file()
        assert not index.embeddings_of(["scene05"]).any()  # old items: none, Hamming slots
        ids, distances = index.search(queries, k=10)
        for found, before in zip(ids, spec["expected"]["none"]["ids"], strict=True):
            kept = [i for i in found if not i.startswith("new")]
            assert kept == before[: len(kept)]
        got = index.query(np.full((1, 8), 255, dtype=np.uint8), k=3, embeddings=np.eye(1, 16, 1))
        assert got.ids[0][:2] == ["new1", "new0"] and got.scores[0][2] is None


def test_a_newer_format_is_refused(previous: Path) -> None:
    manifest = json.loads((previous / "manifest.json").read_text())
    (previous / "manifest.json").write_text(json.dumps({**manifest, "format_version": FORMAT_VERSION + 1}))
    with pytest.raises(CorruptIndexError, match="newer than this TerraHash reads"):
        Index.open(previous)
