"""Re-ranking in the store: int8 embeddings beside the codes, a tie-complete Hamming shortlist,
and an order that equals a brute-force NumPy reference (filters first, every plan, upserts,
removals, items without embeddings)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from terrahash.index import Index
from terrahash.index.embeddings import dequantize_embeddings, quantize_embeddings
from terrahash.index.rerank import SHORTLIST_FACTOR
from tests.index.helpers import tied_codes

BITS, DIM = 64, 24
LABELS = ("forest", "river", "beach")


def reference(
    codes: np.ndarray, stored: np.ndarray, ids: list[str], query_code: np.ndarray, vector: np.ndarray | None,
    k: int, shortlist: int, allowed: np.ndarray | None = None,
) -> tuple[list[str], list[int], list[float | None], int]:
    """The documented rule, written out with NumPy only: filter, Hamming order (distance, then
    insertion), top ``shortlist`` plus every item tied with the k-th distance, cosines of the
    quantised query with the stored int8 rows (in Python integers), re-scored items sorted by
    (-score, Hamming position) inside the positions they held, top ``k``; and the shortlist's
    length."""
    rows = np.arange(len(ids)) if allowed is None else allowed
    bits_db = np.unpackbits(codes[rows], axis=1).astype(np.int64)
    dist = np.abs(bits_db - np.unpackbits(query_code)[None, :].astype(np.int64)).sum(axis=1)
    order = np.lexsort((rows, dist))
    rows, dist = rows[order], dist[order]
    size = max(k, shortlist)
    if len(rows) > size and dist[size - 1] == dist[min(k, len(rows)) - 1]:
        size = int(np.sum(dist <= dist[k - 1]))
    rows, dist = rows[:size], dist[:size]
    position = np.arange(len(rows))
    if vector is None:
        top = position[:k]
        return [ids[r] for r in rows[top]], [int(d) for d in dist[top]], [None] * len(top), len(rows)
    q = [int(x) for x in quantize_embeddings(np.asarray(vector)[None, :])[0]]

    def cosine(row: np.ndarray) -> float:
        s = [int(x) for x in row]
        norms = sum(x * x for x in s) * sum(x * x for x in q)
        return sum(a * b for a, b in zip(s, q, strict=True)) / math.sqrt(norms) if norms else math.nan

    score = np.array([cosine(stored[r]) for r in rows])
    has = stored[rows].any(axis=1)
    slots = position[has]
    ranked = sorted(slots, key=lambda p: (-score[p], p))
    final = position.copy()
    final[slots] = ranked
    top = final[:k]
    return ([ids[r] for r in rows[top]], [int(d) for d in dist[top]],
            [float(score[p]) if has[p] else None for p in top], len(rows))


def items(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    ids = [f"it{i:04d}" for i in range(n)]
    return ids, tied_codes(n, BITS, distinct=25, seed=seed), rng.normal(size=(n, DIM)), \
        [LABELS[i % 3] for i in range(n)]


@pytest.fixture()
def built(tmp_path: Path) -> tuple[Index, list[str], np.ndarray, np.ndarray, list[str]]:
    """An index with upserts, a removal and items written without embeddings."""
    ids, codes, vectors, labels = items(900, seed=3)
    index = Index.create(tmp_path / "idx", BITS)
    index.add(ids[:600], codes[:600], labels=labels[:600], embeddings=vectors[:600])
    index.add(ids[500:800], codes[500:800], labels=labels[500:800], embeddings=vectors[500:800] * 3.0)
    index.add(ids[800:], codes[800:], labels=labels[800:])  # no embeddings: Hamming slots
    index.remove(ids[::17])
    kept = [i for j, i in enumerate(ids) if j % 17]
    where = {item_id: j for j, item_id in enumerate(ids)}
    rows = [where[i] for i in kept]
    stored = quantize_embeddings(vectors)
    stored[800:] = 0
    return index, kept, codes[rows], stored[rows], [labels[r] for r in rows]


def test_quantisation_uses_the_int8_range_and_zero_means_none() -> None:
    x = np.random.default_rng(0).normal(size=(50, 256)) * np.linspace(0.01, 100, 50)[:, None]
    q = quantize_embeddings(x)
    assert q.dtype == np.int8 and q.nbytes == 50 * 256
    assert (np.abs(q).max(axis=1) == 127).all()  # the largest component: never an all-zero row
    peak = x / np.abs(x).max(axis=1, keepdims=True)
    assert np.abs(dequantize_embeddings(q) - peak).max() <= 0.5 / 127 + 1e-6
    np.testing.assert_array_equal(quantize_embeddings(dequantize_embeddings(q)), q)  # id queries
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cosine = (dequantize_embeddings(q) * unit).sum(1) / np.linalg.norm(dequantize_embeddings(q), axis=1)
    assert cosine.min() > 0.9999
    assert not quantize_embeddings(np.zeros((1, 8))).any()


@pytest.mark.parametrize("k", [1, 7, 40, 200])
@pytest.mark.parametrize("shortlist", [None, 1, 90])
def test_reranked_order_equals_numpy_reference(built, k: int, shortlist: int | None) -> None:
    index, ids, codes, stored, _ = built
    rng = np.random.default_rng(k)
    queries = np.concatenate([codes[:3], tied_codes(3, BITS, distinct=25, seed=3)])
    vectors = rng.normal(size=(len(queries), DIM))
    result = index.query(queries, k=k, embeddings=vectors, shortlist=shortlist)
    size = shortlist if shortlist is not None else k * SHORTLIST_FACTOR
    grown = 0
    for i, (q, v) in enumerate(zip(queries, vectors, strict=True)):
        *want, length = reference(codes, stored, ids, q, v, k, size)
        assert [result.ids[i], result.distances[i], result.scores[i]] == want, i
        assert result.details["shortlist"][i] == length, i
        grown += length > max(k, size)
    if max(k, size) < 30:  # tie groups of ~34 items: the shortlist grew to the k-th's whole group
        assert grown


def test_filters_apply_before_reranking(built) -> None:
    index, ids, codes, stored, labels = built
    allowed = np.array([j for j, lab in enumerate(labels) if lab == "river"])
    vectors = np.random.default_rng(1).normal(size=(2, DIM))
    result = index.query(codes[:2], k=15, filters={"labels": ["river"]}, embeddings=vectors)
    for i in range(2):
        want = reference(codes, stored, ids, codes[i], vectors[i], 15, 15 * SHORTLIST_FACTOR, allowed)
        assert [result.ids[i], result.distances[i], result.scores[i]] == list(want[:3])


def test_no_vector_or_no_embeddings_is_the_hamming_order(built, tmp_path: Path) -> None:
    index, ids, codes, _, _ = built
    hamming = index.query(codes[:4], k=30)
    mixed = index.query(codes[:4], k=30, embeddings=[None, None, np.zeros(DIM), None])
    assert (mixed.ids, mixed.distances) == (hamming.ids, hamming.distances)
    assert mixed.scores == [[None] * 30] * 4 and hamming.scores is None
    with Index.create(tmp_path / "plain", BITS) as plain:
        plain.add(ids, codes)
        assert plain.info()["embeddings"]["rerank"] is False
        assert plain.embeddings_of(ids[:2]) is None
        got = plain.query(codes[:4], k=30, embeddings=np.ones((4, DIM)))
        assert (got.ids, got.distances) == (plain.query(codes[:4], k=30).ids, hamming.distances)


def test_identical_vector_comes_first_among_ties(built) -> None:
    index, ids, codes, stored, _ = built
    for j in (5, 123, 400):
        tied = int(np.sum((codes == codes[j]).all(axis=1)))
        result = index.query(codes[j], k=5, embeddings=dequantize_embeddings(stored[j : j + 1]))
        assert tied > 10 and result.ids[0][0] == ids[j] and result.distances[0][0] == 0


def test_approximate_tree_search_reranks_what_it_found(built) -> None:
    index, ids, codes, stored, _ = built
    vectors = np.random.default_rng(2).normal(size=(3, DIM))
    result = index.query(codes[:3], k=10, exact=False, nprobe=2, embeddings=vectors)
    for i in range(3):
        assert len(result.ids[i]) == 10 and set(result.distances[i]) <= set(range(BITS + 1))
        scores = [s for s in result.scores[i] if s is not None]
        assert scores == sorted(scores, reverse=True)


def test_stored_embeddings_round_trip_and_dimension_checks(built, tmp_path: Path) -> None:
    index, ids, _, stored, _ = built
    np.testing.assert_array_equal(index.embeddings_of(ids[:5]), dequantize_embeddings(stored[:5]))
    info = index.info()["embeddings"]
    assert info["dim"] == DIM and info["items"] == int(stored.any(axis=1).sum()) and info["rerank"]
    assert index.manifest["format_version"] == 2 and "embeddings.npy" in index.info()["bytes"]
    with pytest.raises(Exception, match="embeddings have 5 dimensions but this index stores 24"):
        index.add(["x"], np.zeros((1, 8), np.uint8), embeddings=np.ones((1, 5)))
    with pytest.raises(ValueError, match="query embedding has 5 dimensions"):
        index.query(np.zeros(8, np.uint8), k=3, embeddings=np.ones((1, 5)))
    with pytest.raises(ValueError, match="between 1 and 256"):
        index.add(["x"], np.zeros((1, 8), np.uint8), embeddings=np.ones((1, 257)))
    with pytest.raises(ValueError, match="NaN"):
        index.add(["x"], np.zeros((1, 8), np.uint8), embeddings=np.full((1, DIM), np.nan))
    index.replace_all(["a", "b"], np.zeros((2, 8), np.uint8), embeddings=np.eye(2, 7))
    assert index.info()["embeddings"]["dim"] == 7
    with Index.open(index.where) as again:
        assert again.query(np.zeros(8, np.uint8), k=2, embeddings=np.eye(1, 7)).ids == [["a", "b"]]
        assert again.query(np.zeros(8, np.uint8), k=2, embeddings=-np.eye(1, 7)).ids == [["b", "a"]]


@pytest.mark.parametrize("k", [5, 50])
@pytest.mark.parametrize("labelled", [False, True])
def test_faiss_sized_index_takes_the_same_shortlist(tmp_path: Path, k: int, labelled: bool) -> None:
    """Past ``FAISS_MIN_ITEMS`` the shortlist comes from FAISS (a look-ahead k-NN, then a range
    scan, bitmap-filtered with a filter) and still equals the reference."""
    ids, codes, vectors, labels = items(6000, seed=11)
    stored = quantize_embeddings(vectors)
    with Index.create(tmp_path / "big", BITS) as index:
        index.add(ids, codes, labels=labels, embeddings=vectors)
        queries = codes[[3, 700, 4242]]
        q_vectors = np.random.default_rng(k).normal(size=(3, DIM))
        filters = {"labels": ["beach"]} if labelled else None
        allowed = np.array([j for j, lab in enumerate(labels) if lab == "beach"]) if labelled else None
        result = index.query(queries, k=k, filters=filters, embeddings=q_vectors)
        for i in range(3):
            *want, length = reference(codes, stored, ids, queries[i], q_vectors[i], k, k * SHORTLIST_FACTOR,
                                      allowed)
            assert [result.ids[i], result.distances[i], result.scores[i]] == want
            assert result.details["shortlist"][i] == length
            assert length > k * SHORTLIST_FACTOR or k == 50  # tie groups of ~80-240 items
