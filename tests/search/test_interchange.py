"""`terrahash index export` / `index import`: stac-geoparquet out, any backend back, same answers.

Runs on the shared 60-image UC Merced index (real images, a trained run): DuckDB and
GeoPandas read the export as it is, and the imported index answers every search exactly as
the original does (ids, distances and re-ranking scores).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from terrahash.app import Query, Searcher
from terrahash.index import Index
from terrahash.index.geoparquet import CODE, EMBEDDING, META_KEY, RECORD, export_index
from terrahash.index.items import record_bbox
from tests.pg_server import pg_index_uri, pg_server  # noqa: F401 - fixtures
from tests.search.conftest import invoke

#: Query items (by id and by their image file) and filters the comparisons run over.
FILTERS = (None, {"platforms": ["landsat-8"]}, {"bbox": "20,10,40,25"})


@pytest.fixture(scope="module")
def exported(built: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("interchange") / "ucm.parquet"
    code, stdout, err = invoke("index", "export", built["index"], out)
    assert code == 0, err
    assert "exported 60 items" in " ".join(stdout.split())
    return out


Answer = tuple[list[str], list[int], list[float | None]]


def answers(location: str | Path, approximate: bool = False) -> list[Answer]:
    """Every comparison search of one index: by id and by image, re-ranked or not, filtered
    (and through the RSHST tree with ``approximate``: the embedded backend has one)."""
    out = []
    with Searcher.open(location) as searcher:
        ids = searcher.index.ids()
        queries = [Query(id=ids[0]), Query(id=ids[37])]
        queries += [Query(image=searcher.row(i).path) for i in (ids[5], ids[44])]
        for query in queries:
            for filters in FILTERS:
                for rerank in (True, False):
                    hits = searcher.search(query, k=15, filters=filters, rerank=rerank)
                    out.append((hits.ids, hits.distances, hits.scores))
            if approximate:
                hits = searcher.search(query, k=15, exact=False, nprobe=2)
                out.append((hits.ids, hits.distances, hits.scores))
    return out


def test_duckdb_reads_the_export(built: dict[str, Path], exported: Path) -> None:
    with Index.open(built["index"]) as index:
        ids = index.ids()
        rows = index.get(ids)
        codes = index.codes_of(ids)
    con = duckdb.connect()
    table = f"read_parquet('{exported}')"
    assert con.execute(f"SELECT count(*), count(geometry) FROM {table}").fetchone() == (60, 60)
    assert [r[0] for r in con.execute(f"SELECT id FROM {table}").fetchall()] == ids
    first = con.execute(f'SELECT "{CODE}", len("{EMBEDDING}") FROM {table} LIMIT 1').fetchone()
    assert first[0] == codes[0].tobytes() and first[1] == 64
    # the bbox covering columns answer a place predicate as the catalog's footprints do
    west, south, east, north = 20, 10, 40, 25
    found = con.execute(
        f"SELECT id FROM read_parquet('{exported}') WHERE bbox.xmin >= {west} AND bbox.xmax <= {east} "
        f"AND bbox.ymin >= {south} AND bbox.ymax <= {north} ORDER BY id"
    ).fetchall()
    expected = sorted(
        r.id for r in rows
        if (box := record_bbox(r.record)) and west <= box[0] and box[2] <= east and south <= box[1]
        and box[3] <= north
    )
    assert [r[0] for r in found] == expected and 0 < len(expected) < 60
    platforms = dict(con.execute(
        f"SELECT platform, count(*) FROM read_parquet('{exported}') GROUP BY 1").fetchall())
    assert platforms == {"sentinel-2a": 30, "landsat-8": 30}


def test_export_metadata_and_geopandas(built: dict[str, Path], exported: Path) -> None:
    metadata = pq.read_schema(exported).metadata
    geo = json.loads(metadata[b"geo"])
    assert geo["primary_column"] == "geometry" and geo["version"] in ("1.0.0", "1.1.0")
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    ours = json.loads(metadata[META_KEY.encode()])
    with Index.open(built["index"]) as index:
        assert ours["bits"] == 64 and ours["embedding"]["dim"] == index.manifest["embedding_dim"]
        assert ours["manifest"]["model"] == index.manifest["model"]
    geopandas = pytest.importorskip("geopandas")
    frame = geopandas.read_parquet(exported)
    assert len(frame) == 60 and frame.crs.to_epsg() == 4326
    assert frame.geometry.is_valid.all() and set(frame["terrahash:label"]) >= {"agricultural"}


def test_import_embedded_answers_as_the_original(
    built: dict[str, Path], exported: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy.thi"
    code, stdout, err = invoke("index", "import", exported, copy)
    assert code == 0, err
    assert "now holds 60 items" in " ".join(stdout.split())
    with Index.open(built["index"]) as original, Index.open(copy) as imported:
        ids = original.ids()
        assert imported.ids() == ids
        assert (imported.codes_of(ids) == original.codes_of(ids)).all()
        assert (imported.backend.embeddings_of(ids) == original.backend.embeddings_of(ids)).all()
        assert [r.record for r in imported.get(ids)] == [r.record for r in original.get(ids)]
        assert imported.manifest["model"] == original.manifest["model"]
    assert answers(copy, approximate=True) == answers(built["index"], approximate=True)
    # again into the same index: an upsert of the same items, or a replace, changes nothing
    for again in ([], ["--replace"]):
        code, _, err = invoke("index", "import", exported, copy, *again)
        assert code == 0, err
        with Index.open(copy) as imported:
            assert imported.ids() == ids
    assert answers(copy) == answers(built["index"])


def test_import_refuses_a_mismatch_and_a_foreign_file(exported: Path, tmp_path: Path) -> None:
    Index.create(tmp_path / "short.thi", bits=32).close()
    code, _, err = invoke("index", "import", exported, tmp_path / "short.thi")
    assert code == 2 and "code length (bits) is 64 in the file but 32" in err
    with Index.create(tmp_path / "other.thi", bits=64, model={"fingerprint": "0" * 16}):
        pass
    code, _, err = invoke("index", "import", exported, tmp_path / "other.thi")
    assert code == 2 and "model fingerprint" in err and "import into a new index" in err
    plain = tmp_path / "plain.parquet"
    pq.write_table(pq.read_table(exported).replace_schema_metadata({}), plain)
    code, _, err = invoke("index", "import", plain, tmp_path / "new.thi")
    assert code == 2 and f"{plain}: error: not a TerraHash export" in err
    code, _, err = invoke("index", "import", tmp_path / "missing.parquet", tmp_path / "new.thi")
    assert code == 2 and "no such file" in err
    # a record that is not a valid record is refused, and no half-made index is left behind
    table = pq.read_table(exported)
    records = table[RECORD].to_pylist()
    records[3] = json.dumps({**json.loads(records[3]), "cloud_cover": 500})
    bad = tmp_path / "bad.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index(RECORD), RECORD, [records]), bad)
    code, _, err = invoke("index", "import", bad, tmp_path / "new.thi")
    assert code == 2 and "cloud_cover" in err and not (tmp_path / "new.thi").exists()


def test_export_of_an_empty_index_is_refused(tmp_path: Path) -> None:
    Index.create(tmp_path / "empty.thi", bits=64).close()
    with Index.open(tmp_path / "empty.thi") as index, pytest.raises(Exception, match="is empty"):
        export_index(index, tmp_path / "empty.parquet")


def test_import_postgres_answers_as_the_original(
    built: dict[str, Path], exported: Path, pg_index_uri: str,  # noqa: F811
) -> None:
    code, stdout, err = invoke("index", "import", exported, pg_index_uri)
    assert code == 0, err
    with Index.open(pg_index_uri) as imported, Index.open(built["index"]) as original:
        assert imported.ids() == original.ids()
    assert answers(pg_index_uri) == answers(built["index"])
    # and out again: the export of the PostgreSQL copy holds the same rows
    again = exported.with_name("from-postgres.parquet")
    code, _, err = invoke("index", "export", pg_index_uri, again)
    assert code == 0, err
    columns = ["id", CODE, EMBEDDING]
    assert pq.read_table(again, columns=columns).equals(pq.read_table(exported, columns=columns))
    records = [pq.read_table(f, columns=[RECORD])[RECORD].to_pylist() for f in (again, exported)]
    assert [json.loads(r) for r in records[0]] == [json.loads(r) for r in records[1]]
