"""``info()`` of an index in PostgreSQL: catalog ranges and counts, size on disk."""

from __future__ import annotations

from typing import Any

from terrahash.index.items import catalog_summary
from terrahash.index.postgres.connection import RELATION, schema_sql


def catalog_info(conn: Any, schema: str) -> tuple[dict[str, Any], int]:
    """The catalog summary (same keys as the embedded backend's) and the table's total bytes."""
    with conn.cursor() as cur:
        cur.execute(schema_sql(
            "SELECT count(*), min(t_start), max(t_end), min(gsd), max(gsd), count(west), "
            "min(west), min(south), max(east), max(north) FROM {items}",
            schema,
        ))
        count, t0, t1, g0, g1, with_box, *hull = cur.fetchone()
        cur.execute(schema_sql(
            "SELECT coalesce(platform, '(none)'), count(*) FROM {items} GROUP BY 1 ORDER BY 2 DESC", schema
        ))
        platforms = dict(cur.fetchall())
        cur.execute(schema_sql(
            "SELECT l, count(*) FROM {items}, unnest(labels) AS l GROUP BY 1 ORDER BY 2 DESC, 1", schema
        ))
        labels = dict(cur.fetchall())
        cur.execute(f"SELECT pg_total_relation_size({RELATION})", (schema, "items"))
        size = int(cur.fetchone()[0])
    return catalog_summary(count, (t0, t1), (g0, g1), platforms, labels, with_box, hull), size
