"""PostgreSQL backend against a real server: parity with the embedded index, filters and
re-ranking included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import CodeShapeError, CorruptIndexError, HashIndexError, Index
from tests.pg_server import pg_index_uri, pg_server  # noqa: F401 - fixtures
from tests.postgres_helpers import BITS, synthetic_items, tied_codes

FILTERS = [
    None,
    {"bbox": (-20.0, -30.0, 60.0, 40.0)},
    {"bbox": "170,-60,-160,60"},  # crosses the antimeridian
    {"start": "2021-03-01", "end": "2021-09-30T12:00:00Z"},
    {"start": "2023-06-01"},
    {"end": dt.datetime(2020, 4, 1, tzinfo=dt.UTC)},
    {"platforms": ["Sentinel-2A", "gf-2"]},
    {"gsd_min": 2.0, "gsd_max": 10.0},
    {"cloud_max": 25.0},
    {"labels": ["river"]},
    {"labels": ["forest", "beach"], "cloud_max": 60, "gsd_max": 10.0},
    {"bbox": (-180, -90, 180, 90), "start": "2020-06-01", "end": "2022-06-01",
     "platforms": "landsat-8"},
    {"bbox": (5.0, 5.0, 5.5, 5.5), "start": "2030-01-01"},  # nothing passes
]


DIM = 12


def _fill(index: Index, seed: int) -> None:
    """The same history of writes for both backends: a load (with embeddings), an upsert batch
    (without: items 400-699 have none), a removal."""
    ids, records, labels = synthetic_items(700, seed)
    codes = tied_codes(700, seed)
    vectors = np.random.default_rng(seed).normal(size=(500, DIM))
    index.add(ids[:500], codes[:500], records=records[:500], labels=labels[:500],
              paths=[f"/img/{i}.png" for i in ids[:500]], embeddings=vectors)
    # re-add 100 existing ids with new codes/records (upsert) and 200 new ones, interleaved
    again = ids[400:700]
    shuffled = np.random.default_rng(seed + 1).permutation(len(again))
    index.add([again[i] for i in shuffled], tied_codes(300, seed + 2)[shuffled],
              records=[records[(400 + i + 37) % 700] for i in shuffled],
              labels=[labels[400 + i] for i in shuffled])
    index.remove(ids[0:700:9] + ["no-such-id"])


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, pg_server: str):  # noqa: F811
    embedded = Index.create(tmp_path_factory.mktemp("parity") / "idx", BITS)
    postgres = Index.create(f"{pg_server}?schema=parity", BITS)
    for index in (embedded, postgres):
        _fill(index, seed=7)
    yield embedded, postgres
    embedded.close()
    postgres.close()


def test_same_items_rows_and_codes(pair) -> None:
    embedded, postgres = pair
    assert len(postgres) == len(embedded) == 700 - len(range(0, 700, 9))
    ids = [f"syn-{i:05d}" for i in (1, 2, 451, 699, 0)]
    for a, b in zip(embedded.get(ids), postgres.get(ids), strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert (a.id, a.path, a.labels, a.record) == (b.id, b.path, b.labels, b.record)
    present = ids[:4]
    np.testing.assert_array_equal(embedded.codes_of(present), postgres.codes_of(present))
    with pytest.raises(HashIndexError, match="syn-00000"):
        postgres.codes_of(["syn-00000"])


@pytest.mark.parametrize("k", [1, 10, 1000])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "none" if f is None else ",".join(f))
def test_search_parity(pair, filters, k: int) -> None:
    embedded, postgres = pair
    queries = np.concatenate([tied_codes(3, seed=7), tied_codes(2, seed=99)])
    want = embedded.query(queries, k=k, filters=filters)
    got = postgres.query(queries, k=k, filters=filters)
    assert got.ids == want.ids
    assert got.distances == want.distances
    assert got.scanned == want.scanned
    if filters is not None and k == 1000:
        assert any(len(r) for r in want.ids) or filters.get("start") == "2030-01-01"


@pytest.mark.parametrize(("k", "shortlist"), [(1, None), (10, None), (10, 3), (60, 61), (1000, None)])
@pytest.mark.parametrize("filters", FILTERS[:4] + FILTERS[9:11],
                         ids=lambda f: "none" if f is None else ",".join(f))
def test_rerank_parity(pair, filters, k: int, shortlist: int | None) -> None:
    embedded, postgres = pair
    queries = np.concatenate([tied_codes(3, seed=7), tied_codes(2, seed=99)])
    vectors = np.random.default_rng(k).normal(size=(len(queries), DIM))
    want = embedded.query(queries, k=k, filters=filters, embeddings=vectors, shortlist=shortlist)
    got = postgres.query(queries, k=k, filters=filters, embeddings=vectors, shortlist=shortlist)
    assert (got.ids, got.distances, got.scores) == (want.ids, want.distances, want.scores)
    assert got.scanned == want.scanned and got.details["shortlist"] == want.details["shortlist"]
    if filters is None and k == 10:
        assert any(s is not None for row in want.scores for s in row)
        assert any(s is None for row in want.scores for s in row)  # items 400-699 have none
    if filters is None and shortlist == 3:
        assert any(n > k for n in want.details["shortlist"])  # a tie group made it grow


def test_embeddings_round_trip_and_info(pair) -> None:
    embedded, postgres = pair
    ids = ["syn-00001", "syn-00451"]
    np.testing.assert_array_equal(postgres.embeddings_of(ids), embedded.embeddings_of(ids))
    assert postgres.embeddings_of(ids)[0].any() and not postgres.embeddings_of(ids)[1].any()
    a, b = embedded.info()["embeddings"], postgres.info()["embeddings"]
    assert a == b and a["dim"] == DIM and a["items"] == len([i for i in range(400) if i % 9])
    with pytest.raises(HashIndexError, match="embeddings have 5 dimensions but this index stores 12"):
        postgres.add(["x"], np.zeros((1, 8), np.uint8), embeddings=np.ones((1, 5)))


def test_bbox_time_filters_take_the_cube_probe(pair) -> None:
    """Where the server has ``cube`` (contrib), bbox/time filters go through its index."""
    _, postgres = pair
    backend = postgres.backend
    available = backend.scalar("SELECT count(*) FROM pg_available_extensions WHERE name = 'cube'")
    if not available:
        pytest.skip("the cube extension is not installed on this server")
    assert backend.cube
    with backend.conn.cursor() as cur:
        cur.execute("SET enable_seqscan = off")  # tiny table: make the planner show the index
        try:
            from terrahash.index.filters import normalize_filters
            from terrahash.index.postgres.query import cube_probe

            probe, params = cube_probe(normalize_filters(FILTERS[3]))
            cur.execute(backend.statement(f"EXPLAIN SELECT seq FROM {{items}} WHERE {probe}"), params)
            plan = "\n".join(r[0] for r in cur.fetchall())
        finally:
            cur.execute("RESET enable_seqscan")
    assert "items_place_time_cube" in plan


def test_faiss_cache_parity_and_refresh(pair, pg_server: str) -> None:  # noqa: F811
    embedded, _ = pair
    queries = tied_codes(4, seed=7)
    with Index.open(f"{pg_server}?schema=parity&cache=faiss") as cached:
        got = cached.query(queries, k=50)
        assert got.details["method"] == "faiss-cache"
        assert (got.ids, got.distances) == embedded.search(queries, k=50)
        vectors = np.random.default_rng(3).normal(size=(4, DIM))
        reranked = cached.query(queries, k=30, embeddings=vectors, shortlist=5)
        want = embedded.query(queries, k=30, embeddings=vectors, shortlist=5)
        assert (reranked.ids, reranked.distances, reranked.scores) == (want.ids, want.distances, want.scores)
        with Index.open(f"{pg_server}?schema=parity") as writer:
            writer.add(["fresh"], queries[:1])
            try:
                ids, dist = cached.search(queries[:1], k=1)
                assert dist[0][0] == 0 and "fresh" in cached.search(queries[:1], k=400)[0][0]
                assert cached.backend.refresh_cache().ids[-1] == "fresh"
            finally:
                writer.remove(["fresh"])
        assert "fresh" not in cached.search(queries[:1], k=400)[0][0]


def test_upsert_keeps_insertion_order_and_updates(pg_index_uri: str, tmp_path: Path) -> None:  # noqa: F811
    code = np.zeros((3, BITS // 8), np.uint8)
    for location in (pg_index_uri, tmp_path / "e"):
        with Index.create(location, BITS) as index:
            index.add(["a", "b", "c"], code, labels=["x", "y", "z"])
            index.add(["a"], code[:1], labels=[["w", "v"]])
            assert len(index) == 3
            assert index.search(code[0], k=3) == (["a", "b", "c"], [0, 0, 0]) or \
                index.search(code[0], k=3) == ([["a", "b", "c"]], [[0, 0, 0]])
            assert index.get(["a"])[0].labels == ("w", "v")
            with pytest.raises(ValueError, match="'b' appears more than once"):
                index.add(["b", "b"], code[:2])


def test_replace_all_and_exists(pg_index_uri: str) -> None:  # noqa: F811
    from terrahash.index import index_exists

    assert not index_exists(pg_index_uri)
    codes = tied_codes(5, seed=3)
    with Index.create(pg_index_uri, BITS) as index:
        assert index_exists(pg_index_uri) and "***" not in index.where
        index.add([f"old-{i}" for i in range(5)], codes)
        index.replace_all(["a", "b"], codes[:2], labels=["x", "y"], code_kind="fused", dataset="d")
        assert len(index) == 2 and index.manifest["code_kind"] == "fused"
        assert index.get(["old-0", "b"])[0] is None and index.get(["b"])[0].labels == ("y",)
        index.update_manifest(model={"run": "r"})
    with Index.open(pg_index_uri) as again:
        assert again.manifest["model"] == {"run": "r"} and again.manifest["dataset"] == "d"
        assert again.search(codes[1], k=1)[0] == [["b"]]


def test_date_only_end_covers_its_day(pg_index_uri: str) -> None:  # noqa: F811
    from terrahash.metadata.record import SceneRecord

    days = [dt.datetime(2020, 1, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2020, 2, 1, tzinfo=dt.UTC)]
    with Index.create(pg_index_uri, BITS) as index:
        index.add(["last-minute", "next-day"], tied_codes(2, seed=1),
                  records=[SceneRecord(datetime=d) for d in days])
        for filters in ({"end": "2020-01-31"}, {"end": dt.date(2020, 1, 31)}):
            assert index.search(np.zeros(8, np.uint8), k=5, filters=filters)[0] == [["last-minute"]]


def test_bad_input_and_lifecycle_errors(pg_index_uri: str) -> None:  # noqa: F811
    with pytest.raises(CorruptIndexError, match="no TerraHash index"):
        Index.open(pg_index_uri)
    with Index.create(pg_index_uri, BITS) as index:
        with pytest.raises(CodeShapeError, match="expected 8-byte codes"):
            index.add(["a"], np.zeros((1, 16), np.uint8))
        with pytest.raises(ValueError, match="k must be a positive"):
            index.search(np.zeros(8, np.uint8), k=0)
        assert index.search(np.zeros(8, np.uint8), k=5) == ([[]], [[]])
    with pytest.raises(HashIndexError, match="already exists"):
        Index.create(pg_index_uri, BITS)
    with pytest.raises(HashIndexError, match="cannot connect"):
        Index.open("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_schema_migration(pg_index_uri: str) -> None:  # noqa: F811
    import psycopg

    from terrahash.index.postgres import parse_location
    from terrahash.index.postgres.migrations import SCHEMA_VERSION

    dsn, schema, _ = parse_location(pg_index_uri)
    Index.create(pg_index_uri, BITS).close()
    with psycopg.connect(dsn, autocommit=True) as conn:  # pretend an index made by version 1
        conn.execute(f'DROP INDEX IF EXISTS "{schema}".items_span, "{schema}".items_place_time, '
                     f'"{schema}".items_place_time_cube')
        conn.execute(f'ALTER TABLE "{schema}".items DROP COLUMN embedding')
        conn.execute(f"UPDATE \"{schema}\".meta SET value = '1' WHERE key = 'schema_version'")
    with Index.open(pg_index_uri) as index:
        assert index.info()["schema_version"] == SCHEMA_VERSION
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                            (schema,))}
        # version 4 replaces the version 2 and 3 indexes by the covering (lon, lat, time) cube
        assert "items_place_time_cube" in found
        assert not {"items_span", "items_place_time"} & found
        # version 5 adds the re-ranking embeddings
        assert conn.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                            "AND table_name = 'items' AND column_name = 'embedding'", (schema,)).fetchone()
        conn.execute(f"UPDATE \"{schema}\".meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(CorruptIndexError, match="schema version 99 is newer"):
        Index.open(pg_index_uri)


def test_cli_info_and_search_by_id(pair, pg_server: str, capsys) -> None:  # noqa: F811
    import json

    from terrahash.cli import main

    location = f"{pg_server}?schema=parity"
    with pytest.raises(SystemExit) as done:
        main(["index", "info", location, "--json"])
    assert done.value.code in (0, None)
    info = json.loads(capsys.readouterr().out)
    assert info["count"] == len(pair[1]) and info["backend"] == "postgres"
    assert info["catalog"]["with_footprint"] > 0


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "none" if f is None else ",".join(f))
def test_select_parity(pair, filters) -> None:
    """Metadata-only pages: the same ids in the same (insertion) order, the same count."""
    embedded, postgres = pair
    whole = embedded.select(filters, 0, 10_000)
    assert postgres.select(filters, 0, 10_000) == whole
    for offset, limit in ((0, 7), (5, 50), (whole.matched, 3), (whole.matched + 10, 3)):
        assert postgres.select(filters, offset, limit) == embedded.select(filters, offset, limit)


def test_footprints_parity(pair) -> None:
    embedded, postgres = pair
    (ids_e, boxes_e), (ids_p, boxes_p) = embedded.footprints(), postgres.footprints()
    assert sorted(ids_e) == sorted(ids_p) and 0 < len(ids_p) <= len(postgres)
    want = dict(zip(ids_e, boxes_e, strict=True))
    for item_id, box in zip(ids_p, boxes_p, strict=True):
        # the embedded R-tree keeps 32-bit floats, rounded outwards
        np.testing.assert_allclose(box, want[item_id], atol=1e-4)
