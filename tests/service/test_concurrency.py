"""Concurrent searches stay correct while the index is reloaded underneath them."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from terrahash.service import create_app

QUERY = "TestEOPatch_2015-08-20_r000_c000"


def test_searches_during_reloads(index_dir: Path) -> None:
    app = create_app(index_dir, warm=False)
    client = TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 50000))
    expected = client.get("/search", params={"id": QUERY, "k": 25}).json()["features"]
    expected_ids = [f["id"] for f in expected]
    failures: list[str] = []
    stop = threading.Event()

    def searcher() -> None:
        while not stop.is_set():
            r = client.get("/search", params={"id": QUERY, "k": 25})
            if r.status_code != 200:
                failures.append(f"{r.status_code}: {r.text[:200]}")
            elif [f["id"] for f in r.json()["features"]] != expected_ids:
                failures.append("different results during reload")

    threads = [threading.Thread(target=searcher) for _ in range(6)]
    for t in threads:
        t.start()
    engines = set()
    for _ in range(5):
        r = client.post("/admin/reload")
        assert r.status_code == 200, r.text
        engines.add(id(app.state.holder.current))
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not failures, failures[:3]
    assert app.state.holder.reloads == 5 and len(engines) >= 2
