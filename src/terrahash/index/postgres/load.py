"""Writing to an index in PostgreSQL: bulk upserts through ``COPY``, insertion numbers, the
change counter and manifest updates. Every write is one transaction.
"""

from __future__ import annotations

from typing import Any

from terrahash.index.embeddings import embedding_dim_after
from terrahash.index.items import ItemBatch, record_bbox, record_interval, utc_time
from terrahash.index.manifest import now
from terrahash.index.postgres.bitstrings import codes_to_bits, embedding_bytes
from terrahash.index.postgres.connection import RELATION, Jsonb, schema_sql

#: Columns the bulk loader fills, in COPY order (``ord`` is the position within one add()).
LOAD_COLUMNS = (
    "ord",
    "id",
    "path",
    "labels",
    "datetime",
    "t_start",
    "t_end",
    "platform",
    "gsd",
    "cloud",
    "west",
    "south",
    "east",
    "north",
    "record",
    "code",
    "embedding",
)
_UPDATE_COLUMNS = [c for c in LOAD_COLUMNS if c not in ("ord", "id")]
_INSERT_COLUMNS = ", ".join(c for c in LOAD_COLUMNS if c != "ord")
#: An add() of at least this many items ends with VACUUM (ANALYZE): fresh planner statistics,
#: and a visibility map that lets the covering index answer without reading the heap.
VACUUM_MIN_ROWS = 10_000


def typed_values(record: dict[str, Any] | None) -> tuple[Any, ...]:
    """(datetime, t_start, t_end, platform, gsd, cloud, west, south, east, north) of a record,
    by the same rules as the embedded catalog (see ``record_interval``, ``record_bbox``)."""
    if not record:
        return (None,) * 10
    start, end = record_interval(record)
    box = record_bbox(record) or (None, None, None, None)
    return (
        utc_time(record.get("datetime")),
        start,
        end,
        record.get("platform"),
        record.get("gsd_m"),
        record.get("cloud_cover"),
        *box,
    )


def reserve_seqs(conn: Any, schema: str, lock: str, n: int) -> int:
    """First of ``n`` consecutive insertion numbers, reserved atomically across clients.

    Sequence calls are not transactional, so the reservation survives a rolled-back load as a
    harmless gap; the advisory lock ``lock`` only makes nextval + setval one step.
    """
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock,))
        try:
            cur.execute(f"SELECT nextval({RELATION})", (schema, "item_seq"))
            first = int(cur.fetchone()[0])
            if n > 1:
                cur.execute(f"SELECT setval({RELATION}, %s)", (schema, "item_seq", first + n - 1))
        finally:
            cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))
    return first


def bump_version(cur: Any, schema: str) -> None:
    """Last statement of every write: readers compare this counter to refresh caches."""
    cur.execute(schema_sql(
        "UPDATE {meta} SET value = to_jsonb(value::text::bigint + 1) WHERE key = 'version'", schema
    ))


def merge_manifest(cur: Any, schema: str, fields: dict[str, Any]) -> None:
    """Merge ``fields`` (and a fresh ``updated`` stamp) into the stored manifest."""
    fields = {**fields, "updated": now()}
    cur.execute(schema_sql("UPDATE {meta} SET value = value || %s WHERE key = 'manifest'", schema),
                (Jsonb(fields),))


def _copy_rows(cur: Any, batch: ItemBatch) -> None:
    """Stream the batch into the temp table ``terrahash_load`` (one COPY)."""
    bits = codes_to_bits(batch.codes)
    vectors = embedding_bytes(batch.embeddings, len(batch))
    with cur.copy(f"COPY terrahash_load ({', '.join(LOAD_COLUMNS)}) FROM STDIN") as copy:
        for i, rec in enumerate(batch.records):
            copy.write_row(
                (
                    i,
                    batch.ids[i],
                    batch.paths[i],
                    list(batch.labels[i]),
                    *typed_values(rec),
                    Jsonb(rec) if rec is not None else None,
                    bits[i],
                    vectors[i],
                )
            )


def set_embedding_dim(cur: Any, schema: str, batch: ItemBatch, replace: bool, where: str) -> dict[str, Any]:
    """Check the batch's embedding length against the stored one; returns the manifest fields
    to merge (``embedding_dim`` where it changes). Call inside the write's transaction.

    The manifest row stays locked until the write commits: shared while the length stays
    (concurrent loads go on side by side), exclusive where it changes, so two writers can
    never store two lengths.
    """
    if batch.embeddings is None and not replace:
        return {}
    query = "SELECT value FROM {meta} WHERE key = 'manifest'"
    cur.execute(schema_sql(query, schema))
    current = cur.fetchone()[0].get("embedding_dim")
    changes = replace or embedding_dim_after(current, batch.embeddings, replace, where) != current
    cur.execute(schema_sql(query + (" FOR UPDATE" if changes else " FOR SHARE"), schema))
    current = cur.fetchone()[0].get("embedding_dim")
    dim = embedding_dim_after(current, batch.embeddings, replace, where)
    return {"embedding_dim": dim} if dim != current else {}


def upsert(conn: Any, schema: str, postgis: bool, batch: ItemBatch, first_seq: int, replace: bool) -> None:
    """COPY ``batch`` into a temp table, then INSERT ... ON CONFLICT (id) into ``items``.

    A new id gets ``first_seq`` + its position; an existing id keeps its own insertion number
    (as in the embedded backend), so ties rank the same in both. ``replace=True`` first
    deletes every item. The caller owns the transaction.
    """
    with conn.cursor() as cur:
        if replace:
            cur.execute(schema_sql("DELETE FROM {items}", schema))
        cur.execute(schema_sql(
            "CREATE TEMP TABLE terrahash_load (LIKE {items} INCLUDING DEFAULTS) ON COMMIT DROP", schema
        ))
        cur.execute("ALTER TABLE terrahash_load DROP COLUMN seq, ADD COLUMN ord bigint")
        if postgis:
            cur.execute("ALTER TABLE terrahash_load DROP COLUMN footprint")
        _copy_rows(cur, batch)
        footprint_col, footprint_val = "", ""
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _UPDATE_COLUMNS)
        if postgis:
            footprint_col = ", footprint"
            footprint_val = (
                ", CASE WHEN west IS NULL THEN NULL ELSE ST_MakeEnvelope(west, south, east, north, 4326) END"
            )
            updates += ", footprint = EXCLUDED.footprint"
        cur.execute(
            schema_sql(
                f"INSERT INTO {{items}} (seq, {_INSERT_COLUMNS}{footprint_col}) "
                f"SELECT %s + ord, {_INSERT_COLUMNS}{footprint_val} FROM terrahash_load ORDER BY id "
                f"ON CONFLICT (id) DO UPDATE SET {updates}",
                schema,
            ),
            (first_seq,),
        )
