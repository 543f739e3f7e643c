"""``Index.select``: metadata-only pages in insertion order, the same items a filtered search finds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from terrahash.index import Index
from tests.postgres_helpers import BITS, synthetic_items, tied_codes
from tests.test_postgres import FILTERS


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """300 items, then an upsert of 50 of them (their place in the order stays) and a removal."""
    ids, records, labels = synthetic_items(300, seed=3)
    index = Index.create(tmp_path_factory.mktemp("select") / "idx", BITS)
    index.add(ids, tied_codes(300, seed=3), records=records, labels=labels)
    index.add(ids[100:150][::-1], tied_codes(50, seed=4), records=records[150:200][::-1],
              labels=labels[100:150][::-1])
    index.remove(ids[::11])
    return index


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "none" if f is None else ",".join(f))
def test_select_equals_filtered_search_in_insertion_order(index: Index, filters) -> None:
    everything = index.select(filters, 0, len(index))
    # A filtered search over every item finds exactly the same set.
    found = index.search(np.zeros(BITS // 8, np.uint8), k=len(index), filters=filters)[0][0]
    assert sorted(everything.ids) == sorted(found) and everything.matched == len(found)
    seq = {row.id: row.seq for row in index.get(everything.ids) if row is not None}
    assert [seq[i] for i in everything.ids] == sorted(seq.values())  # insertion order
    pages = [index.select(filters, offset, 16).ids for offset in range(0, everything.matched + 16, 16)]
    assert [i for page in pages for i in page] == everything.ids
    assert all(index.select(filters, offset, 16).matched == everything.matched for offset in (0, 16))


def test_select_arguments(index: Index, tmp_path: Path) -> None:
    assert index.select(limit=0).ids == [] and index.select(limit=0).matched == len(index)
    for bad in ({"offset": -1}, {"limit": -2}, {"offset": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            index.select(**bad)
    with Index.create(tmp_path / "empty", BITS) as empty:
        assert empty.select().ids == [] and empty.select().matched == 0
