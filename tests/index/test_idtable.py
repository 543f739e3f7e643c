"""Result ids from the in-memory id table agree with the catalog's, before and after it loads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terrahash.index import Index
from terrahash.index.embedded.idtable import IdLookup, IdTable


@pytest.mark.parametrize(
    ("ids", "fixed"),
    [(["a1", "b22", "c3", ""], True), (["x", "längere-id", "", "y"], False),
     (["a", "b\x00", "c", "d"], False), (["a", "b\nc", "d", "e"], False), (["x", "y", "", "z" * 40], False)],
)
def test_id_table_returns_ids_of_rows(ids: list[str], fixed: bool) -> None:
    table = IdTable(ids)
    assert len(table) == len(ids)
    assert (table.fixed is not None) == fixed
    assert table(np.array([2, 0, 2, 1, 3])) == [ids[2], ids[0], ids[2], ids[1], ids[3]]


def test_searches_name_the_same_ids_once_the_table_is_loaded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (300, 8), dtype=np.uint8)
    ids = [f"item-{i}" + "ü" * (i % 3) for i in range(300)]  # not ASCII: the offsets layout
    index = Index.create(tmp_path / "idx", bits=64)
    index.add(ids, codes)
    index.remove(ids[10:20])  # rows no longer equal seqs
    expected = {i: c for i, c in zip(ids, codes, strict=True) if i not in ids[10:20]}
    queries = rng.integers(0, 256, (IdLookup.TABLE_AFTER + 4, 8), dtype=np.uint8)
    for q in queries:
        found, dist = index.search(q, k=15)
        assert len(found[0]) == 15
        for item, d in zip(found[0], dist[0], strict=True):
            assert int(np.bitwise_count(np.bitwise_xor(expected[item], q)).sum()) == d
    lookup = index.backend.gen.id_lookup  # type: ignore[attr-defined]
    assert lookup is not None and lookup.table is not None  # the later searches used the table
