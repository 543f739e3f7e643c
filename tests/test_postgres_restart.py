"""The PostgreSQL server restarts while the service searches: requests during the outage get
a clear 503, and searches succeed again afterwards on the same index object (no reload)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from terrahash.index import Index, IndexUnavailableError
from tests.pg_server import PrivateServer, private_server
from tests.postgres_helpers import BITS, synthetic_items

N = 300
QUERY_IDS = ["syn-00007", "syn-00123", "syn-00250"]


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    """A server of this module's own, since the tests stop it (the shared one serves others)."""
    with private_server() as private:
        yield private


def _search(client: TestClient, item_id: str) -> Any:
    return client.get("/search", params={"id": item_id, "k": 10})


def test_server_restart_during_searches(server: PrivateServer) -> None:
    from terrahash.service import create_app

    uri = f"{server.base}/terrahash?schema=restart"
    ids, records, labels = synthetic_items(N, seed=5)
    codes = np.random.default_rng(5).integers(0, 256, (N, BITS // 8), dtype=np.uint8)
    with Index.create(uri, bits=BITS) as index:
        index.add(ids, codes, records=records, labels=labels)
    app = create_app(uri, warm=False)
    holder = app.state.holder
    engine = holder.current
    client = TestClient(app, raise_server_exceptions=False)
    expected = {q: [f["id"] for f in _search(client, q).json()["features"]] for q in QUERY_IDS}
    log: list[tuple[float, float, int, str]] = []  # (start, end, status, detail or "")
    stop = threading.Event()

    def searcher(worker: int) -> None:
        turn = worker
        while not stop.is_set():
            q = QUERY_IDS[turn % len(QUERY_IDS)]
            turn += 1
            start = time.monotonic()
            r = _search(client, q)
            ok = r.status_code == 200 and [f["id"] for f in r.json()["features"]] == expected[q]
            log.append((start, time.monotonic(), r.status_code if ok or r.status_code != 200 else -1,
                        "" if r.status_code == 200 else r.text))
            time.sleep(0.01)

    threads = [threading.Thread(target=searcher, args=(w,)) for w in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        stopping = time.monotonic()
        server.stop("fast")  # every session is closed, as in a restart or a failover
        time.sleep(1.0)
        server.start()
        up = time.monotonic()  # pg_ctl -w returns once the server accepts connections
        time.sleep(1.5)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    statuses = [s for _, _, s, _ in log]
    assert -1 not in statuses, "a search answered with different results"
    assert set(statuses) <= {200, 503}, {s: d for _, _, s, d in log if s not in (200, 503)}
    assert any(end < stopping and s == 200 for _, end, s, _ in log)
    failed = [(start, end, d) for start, end, s, d in log if s == 503]
    assert failed, "no search failed while the server was down"
    for start, end, detail in failed:  # JSON {"detail": ...}, naming the index and the cause
        assert detail.startswith('{"detail":"postgresql://') and "(schema restart)" in detail, detail
        assert "lost the connection" in detail or "cannot connect" in detail, detail
        assert end >= stopping and start <= up, "a search failed outside the outage"
    # a search that starts once the server is back succeeds, even on the dead connection
    after = [s for start, _, s, _ in log if start > up]
    assert after and set(after) == {200}, "searches did not recover after the restart"
    # the same engine and index object served before and after: no reload, no restart
    assert holder.current is engine and holder.reloads == 0
    assert client.get("/health").json()["items"] == N


def test_index_object_outlives_a_restart(server: PrivateServer) -> None:
    uri = f"{server.base}/terrahash?schema=outlive"
    ids, records, labels = synthetic_items(50, seed=6)
    codes = np.random.default_rng(6).integers(0, 256, (50, BITS // 8), dtype=np.uint8)
    index = Index.create(uri, bits=BITS)
    index.add(ids, codes, records=records, labels=labels)
    before = index.search(codes[:3], k=5)
    server.stop("fast")
    with pytest.raises(IndexUnavailableError, match=r"postgresql://.*: error: (lost the connection|cannot "
                       r"connect)"):
        index.search(codes[:3], k=5)
    with pytest.raises(IndexUnavailableError):  # a write fails as clearly and is not retried
        index.add(["late"], codes[:1])
    server.start()
    assert index.search(codes[:3], k=5) == before
    index.add(["late"], codes[:1])  # writes work again too
    assert len(index) == 51
    index.close()
