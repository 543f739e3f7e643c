"""`terrahash serve` reloads on SIGHUP while clients keep searching: no request fails.

Between signals the index gets a new generation (an item added), as when an operator
rebuilds the index and then signals the server; the old generation's folder is deleted
while the old engine may still be answering from it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from terrahash.data.dataset import SceneItem
from terrahash.index import Index
from tests.service.conftest import build_index, class_codes

CLIENTS, RELOADS = 6, 4
QUERIES = ["agricultural00", "TestEOPatch_2015-08-20_r000_c000", "harbor00"]


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path) -> dict:
    for _ in range(300):
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            return httpx.get(f"{url}/health", timeout=1).json()
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="SIGHUP is POSIX only")
def test_sighup_reloads_under_load_fail_no_request(tmp_path: Path, items: list[SceneItem]) -> None:
    root = build_index(tmp_path / "index", items, class_codes(items))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"  # a file, not a pipe: a full pipe would stall the access log
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "terrahash.cli", "serve", str(root),
                                 "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    failures: list[str] = []
    answered = [0] * CLIENTS
    stop = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            turn = worker
            while not stop.is_set():
                query = QUERIES[turn % len(QUERIES)]
                turn += 1
                try:
                    r = http.get("/search", params={"id": query, "k": 5})
                except httpx.HTTPError as exc:
                    failures.append(f"{query}: {exc!r}")
                    continue
                if r.status_code != 200 or r.json()["features"][0]["id"] != query:
                    failures.append(f"{query}: {r.status_code} {r.text[:300]}")
                answered[worker] += 1

    threads = [threading.Thread(target=client, args=(w,)) for w in range(CLIENTS)]
    try:
        assert _wait_for(url, proc, log)["reloads"] == 0
        for t in threads:
            t.start()
        for n in range(1, RELOADS + 1):
            time.sleep(0.3)
            with Index.open(root) as index:  # a new generation; the old folder is deleted
                index.add([f"extra{n}"], np.full((1, 8), n, np.uint8), labels=["forest"])
            proc.send_signal(signal.SIGHUP)
            for _ in range(200):
                health = httpx.get(f"{url}/health", timeout=5).json()
                if health["reloads"] == n:
                    break
                time.sleep(0.05)
            assert health["reloads"] == n and health["items"] == len(items) + n, health
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    output = log.read_text(errors="replace")
    assert not failures, failures[:5]
    assert min(answered) > 0 and sum(answered) >= 20, answered
    assert proc.returncode == 0 and "Traceback" not in output, output[-2000:]
