"""``index.geoparquet`` on many small batches: items without footprint or date, removals, ties.

The CLI round trip on a real index is in ``tests/search/test_interchange.py``; here the
exporter writes several row batches whose STAC fields differ (so their schemas must be
unified), some items have no geometry (a null WKB, not a made-up point) and no embedding.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

from terrahash.index import HashIndexError, Index, IndexMismatchError
from terrahash.index import geoparquet as gp
from terrahash.index.items import record_bbox
from tests.postgres_helpers import BITS, synthetic_items, tied_codes

N = 150


@pytest.fixture()
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Index:
    monkeypatch.setattr(gp, "BATCH", 32)
    ids, records, labels = synthetic_items(N, seed=5)
    vectors = np.random.default_rng(6).normal(size=(N, 24))
    vectors[::7] = 0  # these items store no embedding
    index = Index.create(tmp_path / "src.thi", BITS, code_kind="fused", model={"fingerprint": "ab" * 8})
    index.add(ids, tied_codes(N, seed=7), records=records, labels=labels,
              paths=[f"/archive/{i}.tif" for i in ids], embeddings=vectors)
    return index


def assert_same_answers(copy: Index, source: Index, approximate: bool) -> None:
    queries = tied_codes(6, seed=8)
    vectors = np.random.default_rng(9).normal(size=(6, 24))
    for filters in (None, {"cloud_max": 40}, {"bbox": [-60, -40, 60, 40]}):
        assert copy.search(queries, 25, filters) == source.search(queries, 25, filters)
        a = copy.query(queries, 25, filters, embeddings=vectors)
        b = source.query(queries, 25, filters, embeddings=vectors)
        assert (a.ids, a.distances, a.scores) == (b.ids, b.distances, b.scores)
        if approximate:
            assert copy.search(queries, 25, filters, exact=False, nprobe=2) == \
                source.search(queries, 25, filters, exact=False, nprobe=2)


@pytest.mark.parametrize("removed", [0, 10])
def test_round_trip_over_batches(source: Index, tmp_path: Path, removed: int) -> None:
    source.remove(source.ids()[40 : 40 + removed])  # gaps in the insertion sequence
    out = tmp_path / "items.parquet"
    assert gp.export_index(source, out) == N - removed
    copy = gp.import_index(out, tmp_path / "copy.thi")
    ids = source.ids()
    assert copy.ids() == ids and copy.manifest["code_kind"] == "fused"
    assert (copy.codes_of(ids) == source.codes_of(ids)).all()
    assert (copy.backend.embeddings_of(ids) == source.backend.embeddings_of(ids)).all()
    def catalog(index: Index) -> list[tuple]:  # seqs differ: the copy has no gaps
        return [(r.id, r.path, r.labels, r.record) for r in index.get(ids) if r is not None]

    assert catalog(copy) == catalog(source)
    # the RSHST tree is rebuilt on import: after removals the source's tree was edited in
    # place, so only a source written in one go promises the same approximate answers
    assert_same_answers(copy, source, approximate=not removed)


def test_items_without_footprint_have_null_geometry(source: Index, tmp_path: Path) -> None:
    out = tmp_path / "items.parquet"
    gp.export_index(source, out)
    rows = source.get(source.ids())
    unplaced = sorted(r.id for r in rows if record_bbox(r.record) is None)
    assert unplaced  # the synthetic set has some
    query = f"SELECT id FROM read_parquet('{out}') WHERE geometry IS NULL ORDER BY id"
    found = duckdb.execute(query).fetchall()
    assert [r[0] for r in found] == unplaced
    table = pq.read_table(out, columns=["id", "emb:dimensions", gp.EMBEDDING, "datetime"])
    pairs = zip(table["id"].to_pylist(), table[gp.EMBEDDING].to_pylist(), strict=True)
    without = [i for i, v in pairs if v is None]
    assert without == [r.id for r in rows if r.seq % 7 == 0]
    assert set(table["emb:dimensions"].to_pylist()) == {24, None}
    dateless = [r.id for r in rows if not (r.record or {}).get("datetime")
                and not (r.record or {}).get("start_datetime")]
    assert [i for i, t in zip(table["id"].to_pylist(), table["datetime"].to_pylist(), strict=True)
            if t is None] == dateless


def test_mismatched_embeddings_and_tampered_vectors_are_refused(source: Index, tmp_path: Path) -> None:
    out = tmp_path / "items.parquet"
    gp.export_index(source, out)
    other = Index.create(tmp_path / "other.thi", BITS)
    other.add(["x"], tied_codes(1, seed=1), embeddings=np.ones((1, 8)))
    other.close()
    with pytest.raises(IndexMismatchError, match="embedding dimensions is 24 in the file but 8"):
        gp.import_index(out, tmp_path / "other.thi")
    table = pq.read_table(out)
    meta = json.loads(table.schema.metadata[gp.META_KEY.encode()])
    meta["version"] = 99
    bumped = tmp_path / "bumped.parquet"
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata,
                                                   gp.META_KEY.encode(): json.dumps(meta).encode()}), bumped)
    with pytest.raises(HashIndexError, match="version 99; this TerraHash reads"):
        gp.read_export(bumped)
