"""Micro-batching: concurrent searches share one model pass and one index scan.

A server that answers each request alone runs the model once per image, and dozens of
threads then fight over two cores. Here a request puts its query in a bounded queue and
waits on a future; one worker thread takes the first waiting request, gathers more for up
to ``window_ms`` (or until ``max_batch``), and answers them with ``Engine.search_many``,
one group per engine and parameters (one scan serves queries with the same ``k`` and
filters). A full queue refuses at once, so latency stays bounded: HTTP 503 with
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import math
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from terrahash.app import Query
from terrahash.errors import TerraHashError
from terrahash.service.engine import Engine, Outcome
from terrahash.service.params import SearchParams


@dataclass(frozen=True)
class BatchConfig:
    """How long a batch waits for company, how large it grows, how many requests may wait."""

    #: After the first request of a batch arrives, wait at most this long for more (ms).
    window_ms: float = 5.0
    #: Most queries answered in one model pass.
    max_batch: int = 64
    #: Most requests waiting for a batch; beyond it requests are refused (503).
    queue_size: int = 256
    #: Worker threads: with two, one batch's scan and rows overlap the next one's model pass.
    workers: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.window_ms <= 1000:
            raise ValueError(f"batch window: must be 0 to 1000 ms, got {self.window_ms}")
        if self.max_batch < 1:
            raise ValueError(f"batch max: must be at least 1, got {self.max_batch}")
        if self.queue_size < 1:
            raise ValueError(f"batch queue: must be at least 1, got {self.queue_size}")
        if self.workers < 1:
            raise ValueError(f"batch workers: must be at least 1, got {self.workers}")


class QueueFullError(TerraHashError):
    """Too many requests waiting; ``retry_after`` is the suggested wait in whole seconds."""

    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class _Job:
    engine: Engine
    query: Query
    params: SearchParams
    future: Future[Outcome]


class MicroBatcher:
    """The queue and its worker thread; ``search`` is what a request awaits."""

    def __init__(self, config: BatchConfig | None = None, autostart: bool = True) -> None:
        self.config = config or BatchConfig()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._autostart = autostart
        #: Seconds of work per query, smoothed over batches (for ``Retry-After``).
        self._item_seconds = 0.01
        self.batches = 0
        self.queries = 0
        self.largest = 0
        self.refused = 0

    def submit(self, engine: Engine, query: Query, params: SearchParams) -> Future[Outcome]:
        """Queue one search; its future holds the outcome (or the search's exception).

        Raises:
            QueueFullError: ``queue_size`` requests are already waiting (or the server stops).
        """
        future: Future[Outcome] = Future()
        with self._lock:
            if self._closed:
                raise QueueFullError("the server is shutting down; retry on another instance")
            waiting = self._queue.qsize()
            if waiting >= self.config.queue_size:
                self.refused += 1
                retry = max(1, math.ceil(waiting * self._item_seconds))
                raise QueueFullError(f"the search queue is full ({waiting} requests waiting); "
                                     f"retry in {retry} s", retry)
            self._queue.put(_Job(engine, query, params, future))
            if self._autostart and not self._threads:
                self._start_locked()
        return future

    async def search(self, engine: Engine, query: Query, params: SearchParams) -> Outcome:
        """The outcome of ``query`` on ``engine``, answered together with concurrent requests."""
        return await asyncio.wrap_future(self.submit(engine, query, params))

    def start(self) -> None:
        """Start the workers (``autostart`` does so on the first request)."""
        with self._lock:
            if not self._threads:
                self._start_locked()

    def _start_locked(self) -> None:
        self._threads = [threading.Thread(target=self._work, name=f"terrahash-batcher-{i}", daemon=True)
                         for i in range(self.config.workers)]
        for thread in self._threads:
            thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Refuse new requests, answer the queued ones, stop the workers."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        """Counters since start: batches, queries, largest batch, refused requests, waiting."""
        return {"batches": self.batches, "queries": self.queries, "largest": self.largest,
                "refused": self.refused, "waiting": self._queue.qsize(),
                "window_ms": self.config.window_ms, "max_batch": self.config.max_batch,
                "queue_size": self.config.queue_size, "workers": self.config.workers}

    # -- the worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        """Take a batch and answer it, until closed with nothing left waiting."""
        while True:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._closed:
                    return
                continue
            batch = [first]
            deadline = time.perf_counter() + self.config.window_ms / 1000.0
            while len(batch) < self.config.max_batch:
                try:
                    left = deadline - time.perf_counter()
                    batch.append(self._queue.get(timeout=left) if left > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            self._answer(batch)

    def _answer(self, batch: list[_Job]) -> None:
        """Answer every job of ``batch`` that is still wanted, grouped by engine and parameters."""
        started = time.perf_counter()
        groups: dict[tuple[Engine, SearchParams], list[_Job]] = {}
        for job in batch:
            if job.future.set_running_or_notify_cancel():  # False: the client went away
                groups.setdefault((job.engine, job.params), []).append(job)
        for (engine, params), jobs in groups.items():
            try:
                outcomes = engine.search_many([job.query for job in jobs], params)
            except Exception as exc:  # noqa: BLE001 - one bad query must not fail its neighbours
                if len(jobs) == 1:
                    jobs[0].future.set_exception(exc)
                else:
                    _answer_alone(jobs)
                continue
            for job, outcome in zip(jobs, outcomes, strict=True):
                job.future.set_result(outcome)
        answered = sum(len(jobs) for jobs in groups.values())
        if answered:
            per_item = (time.perf_counter() - started) / answered
            self._item_seconds = 0.8 * self._item_seconds + 0.2 * per_item
            self.batches += 1
            self.queries += answered
            self.largest = max(self.largest, answered)


def _answer_alone(jobs: list[_Job]) -> None:
    """Each job searched on its own, so each gets its own result or its own error."""
    for job in jobs:
        try:
            job.future.set_result(job.engine.search(job.query, job.params))
        except Exception as exc:  # noqa: BLE001 - handed to the request, which maps it to HTTP
            job.future.set_exception(exc)
