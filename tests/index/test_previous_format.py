"""An index written by the previous release (before the store was split by concern) opens,
answers exactly as it did then, and accepts writes: the on-disk format did not change.

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

from terrahash.index import Index

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
