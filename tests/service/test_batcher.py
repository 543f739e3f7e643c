"""Micro-batching: queued searches are answered together, each as if alone; a full queue
answers 503 with Retry-After; a bad query fails only its own request."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from terrahash.app import ItemNotFoundError, Query
from terrahash.data import default_data_dir, load_rgb
from terrahash.errors import TerraHashError
from terrahash.service import create_app
from terrahash.service.app import ENV_BATCH_MAX, ENV_BATCHING, batching_from_env
from terrahash.service.batcher import BatchConfig, MicroBatcher, QueueFullError
from terrahash.service.engine import Engine
from terrahash.service.params import parse_params

EOLEARN = default_data_dir() / "scenes" / "eolearn_slovenia"
QUERY = "TestEOPatch_2015-08-20_r000_c000"


def test_queued_image_searches_run_as_one_batch_with_lone_results(model_index_dir: Path) -> None:
    engine = Engine(model_index_dir)
    paths = sorted(EOLEARN.glob("*.png"))[:12:2]
    queries = [Query(image=load_rgb(p, 32)) for p in paths] + [Query(id=paths[3].stem)]
    params = parse_params(k=8)
    batcher = MicroBatcher(BatchConfig(window_ms=0, max_batch=64), autostart=False)
    futures = [batcher.submit(engine, q, params) for q in queries]
    batcher.start()
    outcomes = [f.result(timeout=60) for f in futures]
    batcher.close()
    assert batcher.stats()["batches"] == 1 and batcher.stats()["largest"] == len(queries)
    for query, outcome in zip(queries, outcomes, strict=True):
        alone = engine.search(query, params)
        assert [e.id for e in outcome.entries] == [e.id for e in alone.entries]
        assert outcome.distances == alone.distances and outcome.scores == alone.scores
    assert [e.id for e in outcomes[1].entries][0] == paths[1].stem  # an image finds itself


def test_bad_query_fails_alone(index_dir: Path) -> None:
    engine = Engine(index_dir)
    batcher = MicroBatcher(BatchConfig(window_ms=0), autostart=False)
    good = batcher.submit(engine, Query(id="agricultural00"), parse_params(k=3))
    bad = batcher.submit(engine, Query(id="no-such-item"), parse_params(k=3))
    batcher.start()
    assert [e.id for e in good.result(timeout=30).entries][0] == "agricultural00"
    with pytest.raises(ItemNotFoundError, match="no-such-item"):
        bad.result(timeout=30)
    batcher.close()


def test_full_queue_refuses_then_drains(index_dir: Path) -> None:
    engine = Engine(index_dir)
    batcher = MicroBatcher(BatchConfig(queue_size=2), autostart=False)
    waiting = [batcher.submit(engine, Query(id="agricultural00"), parse_params(k=2)) for _ in range(2)]
    with pytest.raises(QueueFullError, match="2 requests waiting") as refused:
        batcher.submit(engine, Query(id="agricultural00"), parse_params(k=2))
    assert refused.value.retry_after >= 1 and batcher.stats()["refused"] == 1
    batcher.close()  # refuses from now on; the worker still answers what was queued
    assert not any(f.done() for f in waiting)
    batcher.start()
    assert [len(f.result(timeout=30).entries) for f in waiting] == [2, 2]
    with pytest.raises(QueueFullError, match="shutting down"):
        batcher.submit(engine, Query(id="agricultural00"), parse_params(k=2))


def test_http_503_with_retry_after_when_the_queue_is_full(model_index_dir: Path) -> None:
    app = create_app(model_index_dir, batching=BatchConfig(queue_size=1))
    client = TestClient(app, raise_server_exceptions=False)
    stalled = MicroBatcher(BatchConfig(queue_size=1), autostart=False)  # a worker that has not started
    app.state.batcher = stalled
    stalled.submit(app.state.holder.current, Query(text="forest"), parse_params())
    r = client.post("/search", json={"text": "forest"})
    assert r.status_code == 503 and r.headers["retry-after"] == "1"
    assert "queue is full" in r.json()["detail"]
    assert client.get("/search", params={"id": QUERY}).status_code == 200  # ids skip the queue
    stalled.start()
    stalled.close()


def test_batched_and_unbatched_services_answer_alike(index_dir: Path) -> None:
    batched = TestClient(create_app(index_dir, batching=BatchConfig(window_ms=1)))
    plain = TestClient(create_app(index_dir, batching=None))
    for params in ({"id": "agricultural00", "k": 7}, {"id": "TestEOPatch_2015-08-20_r000_c000", "k": 5,
                                                      "datetime": "2015-01-01/2016-12-31"}):
        a, b = batched.get("/search", params=params), plain.get("/search", params=params)
        assert a.status_code == b.status_code == 200
        ids = [f["id"] for f in a.json()["features"]]
        assert ids == [f["id"] for f in b.json()["features"]] and len(ids) == params["k"]
    stats = batched.get("/health").json()["batching"]
    assert stats["queries"] == 0 and stats["queue_size"] == 256  # id queries need no model pass
    assert plain.get("/health").json()["batching"] is None


def test_batch_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="batch max: must be at least 1, got 0"):
        BatchConfig(max_batch=0)
    monkeypatch.setenv(ENV_BATCH_MAX, "many")
    with pytest.raises(TerraHashError, match="many"):
        batching_from_env()
    monkeypatch.setenv(ENV_BATCHING, "0")
    assert batching_from_env() is None


def test_serve_help_names_the_batching_options() -> None:
    from typer.testing import CliRunner

    from terrahash.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in ("--no-batching", "--batch-window-ms", "--batch-max", "--batch-queue", "--batch-workers"):
        assert option in result.output, option
