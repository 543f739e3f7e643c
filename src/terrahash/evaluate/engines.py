"""Server-side engine baselines: real-valued embeddings in FAISS next to the hash codes.

The paper's comparison asks what the hash codes cost and save against the usual server-side
engines on the same backbone: exact inner-product search (``IndexFlatIP`` on L2-normalised
embeddings, i.e. cosine), graph search (``IndexHNSWFlat``), and the codes themselves in an
exhaustive Hamming scan (``IndexBinaryFlat``). Every engine is scored from the ids it
returns, with the same AP@k as :mod:`terrahash.evaluate.ranking` (normaliser min(R, k),
zero-hit queries excluded), on the same seeded database order.

Reported per engine: ``map@k``, ``latency_ms`` (median of single-query searches, the
interactive case), ``batch_ms_per_query`` (all queries in one call / n_queries),
``bytes_per_item`` (the serialised index size / n_database, so graph links count) and
``code_bytes`` (the vector or code alone). FAISS uses all OpenMP threads it is given;
timings are of this machine and only comparable within one call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from terrahash.evaluate.hamming import EvaluationError, check_pair
from terrahash.evaluate.protocol import DEFAULT_ORDER_SEED, database_order
from terrahash.evaluate.ranking import RankingResult, average_precision_sorted
from terrahash.evaluate.ties import tie_aware_map

#: Single-query searches timed per engine (the median is reported).
LATENCY_SAMPLES = 200

#: One engine's report row (keys in the module docstring).
EngineRow = dict[str, float | int | str]


def ranking_from_ranked_ids(ids: np.ndarray, relevance: np.ndarray, k: int) -> RankingResult:
    """Per-query AP@k and their summary from (n_q, >=k) ranked database ids (-1 = no result)."""
    ids = np.asarray(ids)[:, :k]
    relevance = np.asarray(relevance, dtype=bool)
    found = (ids >= 0) & np.take_along_axis(relevance, np.maximum(ids, 0), axis=1)
    return RankingResult.from_ap(average_precision_sorted(found, relevance.sum(axis=1), k), k)


def map_from_ranked_ids(ids: np.ndarray, relevance: np.ndarray, k: int) -> tuple[float, int]:
    """(mAP@k, zero-hit queries) from (n_q, >=k) ranked database ids (-1 = no result)."""
    result = ranking_from_ranked_ids(ids, relevance, k)
    return result.map, result.zero_hit_queries


def _serialized_bytes(index: Any, faiss: Any, binary: bool) -> int:
    data = faiss.serialize_index_binary(index) if binary else faiss.serialize_index(index)
    return int(len(data))


def _timed_engine(
    name: str,
    params: str,
    index: Any,
    queries: np.ndarray,
    relevance: np.ndarray,
    k: int,
    k_name: int,
    build_s: float,
    size: int,
    code_bytes: int,
    search: Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]],
) -> EngineRow:
    start = time.perf_counter()
    _, ids = search(queries, k)
    batch_s = time.perf_counter() - start
    singles = []
    for i in range(min(LATENCY_SAMPLES, len(queries))):
        t0 = time.perf_counter()
        search(queries[i : i + 1], k)
        singles.append(time.perf_counter() - t0)
    score, zero = map_from_ranked_ids(ids, relevance, k)
    n_db = int(index.ntotal)
    return {
        "engine": name,
        "params": params,
        f"map@{k_name}": score,
        "zero_hit_queries": zero,
        "latency_ms": 1e3 * float(np.median(singles)),
        "batch_ms_per_query": 1e3 * batch_s / len(queries),
        "build_s": build_s,
        "bytes_per_item": size / n_db,
        "code_bytes": code_bytes,
        "queries": len(queries),
        "database": n_db,
    }


def compare_engines(
    query_emb: np.ndarray,
    db_emb: np.ndarray,
    query_codes: np.ndarray,
    db_codes: np.ndarray,
    relevance: np.ndarray,
    k: int = 100,
    hnsw_m: int = 32,
    ef_search: int = 128,
    seed: int = DEFAULT_ORDER_SEED,
) -> list[EngineRow]:
    """Score FAISS engines on embeddings and on hash codes of the same items.

    Args:
        query_emb: (n_q, dim) real-valued query embeddings (e.g. the model's ``emb_image``).
        db_emb: (n_db, dim) database embeddings.
        query_codes: (n_q, bits/8) packed uint8 codes of the same queries.
        db_codes: (n_db, bits/8) packed uint8 codes of the same database items.
        relevance: (n_q, n_db) bool, in the given database order.
        k: cut-off of mAP and of every search.
        hnsw_m: HNSW graph degree.
        ef_search: HNSW search breadth.
        seed: database order seed (:func:`terrahash.evaluate.protocol.database_order`).

    Returns:
        One dict per engine (``engine`` is ``flat_ip``, ``hnsw_flat`` or ``binary_flat``,
        ``params`` its settings) with the keys in the module docstring; the hash row also
        has ``tie_aware_map@k``.

    Raises:
        EvaluationError: on mismatched shapes or dtypes.
    """
    import faiss

    query_codes, db_codes = check_pair(query_codes, db_codes, relevance, "relevance")
    query_emb = np.ascontiguousarray(query_emb, dtype=np.float32)
    db_emb = np.ascontiguousarray(db_emb, dtype=np.float32)
    if query_emb.ndim != 2 or db_emb.ndim != 2 or query_emb.shape[1] != db_emb.shape[1]:
        raise EvaluationError(
            f"embeddings: expected (n, dim) arrays of one dim, got {query_emb.shape} and "
            f"{db_emb.shape}"
        )
    if len(query_emb) != len(query_codes) or len(db_emb) != len(db_codes):
        raise EvaluationError(
            f"embeddings and codes describe different items: {len(query_emb)}/{len(query_codes)} "
            f"queries, {len(db_emb)}/{len(db_codes)} database items"
        )
    k_name, k = int(k), min(int(k), len(db_codes))  # named as asked, capped like map@k
    order = database_order(len(db_codes), seed)
    db_emb, db_codes = db_emb[order].copy(), db_codes[order]
    relevance = np.asarray(relevance, dtype=bool)[:, order]
    query_emb = query_emb.copy()
    faiss.normalize_L2(query_emb)
    faiss.normalize_L2(db_emb)
    dim = db_emb.shape[1]
    results = []

    start = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(db_emb)
    results.append(_timed_engine(
        "flat_ip", f"dim={dim},cosine", flat, query_emb, relevance, k, k_name,
        time.perf_counter() - start, _serialized_bytes(flat, faiss, False), 4 * dim, flat.search,
    ))

    start = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efSearch = max(ef_search, k)
    hnsw.add(db_emb)
    results.append(_timed_engine(
        "hnsw_flat", f"M={hnsw_m},efSearch={hnsw.hnsw.efSearch}", hnsw, query_emb, relevance,
        k, k_name, time.perf_counter() - start, _serialized_bytes(hnsw, faiss, False), 4 * dim,
        hnsw.search,
    ))

    start = time.perf_counter()
    binary = faiss.IndexBinaryFlat(8 * db_codes.shape[1])
    binary.add(np.ascontiguousarray(db_codes))
    hashed = _timed_engine(
        "binary_flat", f"bits={8 * db_codes.shape[1]},hamming", binary, query_codes, relevance,
        k, k_name, time.perf_counter() - start, _serialized_bytes(binary, faiss, True),
        db_codes.shape[1], binary.search,
    )
    # FAISS breaks Hamming ties in its own heap order; the order-free number goes beside it.
    hashed[f"tie_aware_map@{k_name}"] = tie_aware_map(query_codes, db_codes, relevance, k)
    results.append(hashed)
    return results
