"""PostgreSQL integrity: a killed loader leaves no partial batch; concurrent writers lose nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np

from terrahash.index import Index
from tests.pg_server import pg_index_uri, pg_server  # noqa: F401 - fixtures
from tests.postgres_helpers import BITS

LOADER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from terrahash.index import Index

    n = int(sys.argv[2])
    codes = np.random.default_rng(1).integers(0, 256, (n, 8), dtype=np.uint8)
    with Index.open(sys.argv[1]) as index:
        index.add([f"bulk-{i}" for i in range(n)], codes, paths=[f"/p/{i}" for i in range(n)])
    print("committed", flush=True)
    """
)


def _backend_busy(dsn: str, pid: int) -> str | None:
    """The loader's current statement, seen from another connection (None: not yet/no more)."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT query FROM pg_stat_activity WHERE application_name = %s AND state = 'active'",
            (f"loader-{pid}",),
        ).fetchone()
    return row[0] if row else None


def test_killed_loader_leaves_no_partial_batch(pg_index_uri: str) -> None:  # noqa: F811
    from terrahash.index.postgres import parse_location

    dsn, _, _ = parse_location(pg_index_uri)
    codes = np.random.default_rng(0).integers(0, 256, (50, BITS // 8), dtype=np.uint8)
    with Index.create(pg_index_uri, BITS) as index:
        index.add([f"old-{i}" for i in range(50)], codes)
    env = {**os.environ, "PGAPPNAME": "loader-0"}
    proc = subprocess.Popen([sys.executable, "-c", LOADER, pg_index_uri, "400000"], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        deadline, seen = time.monotonic() + 60, None
        while time.monotonic() < deadline and proc.poll() is None:
            seen = _backend_busy(dsn, 0)
            if seen and seen.lstrip().upper().startswith("COPY"):
                break
            time.sleep(0.02)
        assert seen is not None and seen.lstrip().upper().startswith("COPY"), \
            "the loader never reached its COPY; cannot kill it mid-load"
        time.sleep(0.3)  # let rows stream into the server-side COPY
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _backend_busy(dsn, 0) and time.monotonic() < deadline:  # server notices the dead peer
        time.sleep(0.05)
    with Index.open(pg_index_uri) as index:
        assert len(index) == 50
        assert index.get(["bulk-0"]) == [None]
        index.add(["after"], codes[:1])  # nothing left locked
        assert len(index) == 51
        assert index.search(codes[3], k=1)[0] == [["old-3"]]


def test_concurrent_writers_and_readers(pg_index_uri: str) -> None:  # noqa: F811
    """4 writer threads (distinct + shared ids, upserts) and 2 readers, each its own connection."""
    rng = np.random.default_rng(3)
    shared_ids = [f"shared-{i}" for i in range(40)]
    shared_codes = rng.integers(0, 256, (40, BITS // 8), dtype=np.uint8)
    Index.create(pg_index_uri, BITS).close()
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            with Index.open(pg_index_uri) as index:
                local = np.random.default_rng(100 + w)
                for batch in range(6):
                    own = [f"w{w}-{batch}-{i}" for i in range(30)]
                    codes = local.integers(0, 256, (30, BITS // 8), dtype=np.uint8)
                    pick = local.choice(40, 10, replace=False)
                    index.add(own + [shared_ids[i] for i in pick],
                              np.concatenate([codes, shared_codes[pick]]))
                index.remove([f"w{w}-0-{i}" for i in range(5)])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def reader() -> None:
        try:
            with Index.open(pg_index_uri) as index:
                last = 0
                while not stop.is_set():
                    ids, dist = index.search(shared_codes[:3], k=20)
                    for row_ids, row_d in zip(ids, dist, strict=True):
                        assert len(set(row_ids)) == len(row_ids)
                        assert row_d == sorted(row_d)
                    n = len(index)
                    assert n >= last - 20  # only the final removals shrink it
                    last = n
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads + readers:
        t.start()
    for t in threads:
        t.join(timeout=120)
    stop.set()
    for t in readers:
        t.join(timeout=30)
    assert not errors, errors
    expected = {f"w{w}-{b}-{i}" for w in range(4) for b in range(6) for i in range(30)}
    expected -= {f"w{w}-0-{i}" for w in range(4) for i in range(5)}
    with Index.open(pg_index_uri) as index:
        written = set(shared_ids) & {r.id for r in index.get(shared_ids) if r is not None}
        expected |= written
        assert len(index) == len(expected)
        assert all(row is not None for row in index.get(sorted(expected)))
        np.testing.assert_array_equal(index.codes_of(sorted(written)),
                                      shared_codes[[shared_ids.index(i) for i in sorted(written)]])
        seqs = [row.seq for row in index.get(sorted(expected))]
        assert len(set(seqs)) == len(seqs)
