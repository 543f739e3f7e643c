"""RSHST: exact mode equals the flat reference; approximate mode is bounded and accurate."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from terrahash.codes import as_words
from terrahash.index.tree import CLUSTER, LABEL, SemanticTree, TreeParams
from tests.index.helpers import clustered_codes, random_codes, reference_search, tied_codes


def _check_exact(tree: SemanticTree, db: np.ndarray, queries: np.ndarray, k: int) -> list[int]:
    ref_d, ref_r = reference_search(db, queries, k)
    words, scanned = as_words(db), []
    for i, q in enumerate(as_words(queries)):
        d, r, s = tree.search_one(words, q, k)
        n = min(k, db.shape[0])
        assert np.array_equal(d, ref_d[i, :n]) and np.array_equal(r, ref_r[i, :n])
        scanned.append(s)
    return scanned


@pytest.mark.parametrize("bits", [64, 128])
def test_exact_tree_on_clustered_codes_prunes(bits: int) -> None:
    db, _ = clustered_codes(12_000, bits, 40, 0.04, 5)
    queries, _ = clustered_codes(10, bits, 40, 0.04, 5)
    tree = SemanticTree.build(db)
    scanned = _check_exact(tree, db, queries, 50)
    assert np.mean(scanned) < 0.6 * db.shape[0]


def test_exact_tree_on_random_and_tied_codes() -> None:
    for db in (random_codes(3000, 64, 1), tied_codes(3000, 64, 7, 2)):
        tree = SemanticTree.build(db, params=TreeParams(leaf_size=100))
        _check_exact(tree, db, np.concatenate([db[:2], random_codes(3, 64, 9)]), 30)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 400), k=st.integers(1, 60), distinct=st.integers(1, 60), seed=st.integers(0, 999))
def test_exact_tree_property(n: int, k: int, distinct: int, seed: int) -> None:
    db = tied_codes(n, 64, distinct, seed)
    labels = [None if i % 3 == 0 else f"class{i % 4}" for i in range(n)]
    tree = SemanticTree.build(db, labels, params=TreeParams(leaf_size=16, min_size=3, seed=seed))
    assert tree.size == n
    _check_exact(tree, db, random_codes(2, 64, seed), k)


def test_label_tree_follows_the_taxonomy_and_merges_sparse_nodes() -> None:
    db, which = clustered_codes(2000, 64, 5, 0.05, 3)
    labels = [f"class{c}" for c in which]
    labels[:3] = ["rare"] * 3  # too few for a node of its own: folded into the root
    paths = {f"class{c}": ["natural" if c < 2 else "built", f"class{c}"] for c in range(5)}
    tree = SemanticTree.build(
        db, labels, lambda lab: paths.get(lab, [lab]), TreeParams(leaf_size=150, min_size=10)
    )
    names = {tree.names[i] for i in range(len(tree.names)) if tree.kinds[i] == LABEL}
    assert names == {"natural", "built", *paths}
    assert "rare" not in tree.names and set(tree.members[0]) >= {0, 1, 2}
    assert any(tree.kinds == CLUSTER)  # label nodes larger than a leaf are split by codes
    _check_exact(tree, db, db[::400], 25)


def test_insert_routes_and_keeps_exactness() -> None:
    db, which = clustered_codes(4000, 64, 8, 0.05, 11)
    labels = [f"class{c}" for c in which]
    tree = SemanticTree.build(db[:3000], labels[:3000], params=TreeParams(leaf_size=200))
    tree.insert(db[3000:], np.arange(3000, 4000), labels[3000:])
    assert tree.size == 4000
    _check_exact(tree, db, db[3990:], 40)
    mapping = np.arange(4000)
    mapping[::2] = -1
    mapping[mapping >= 0] = np.arange(2000)
    tree.remap(mapping)
    _check_exact(tree, db[1::2], db[3990:], 40)


def test_approximate_search_respects_nprobe_and_recall() -> None:
    db, _ = clustered_codes(20_000, 64, 50, 0.05, 7)
    queries, _ = clustered_codes(20, 64, 50, 0.05, 8)
    tree = SemanticTree.build(db)
    ref_d, ref_r = reference_search(db, queries, 100)
    words, recall = as_words(db), []
    for i, q in enumerate(as_words(queries)):
        d, r, scanned = tree.search_one(words, q, 100, exact=False, nprobe=24)
        biggest = sorted((m.size for m in tree.members), reverse=True)[:24]
        assert scanned <= sum(biggest)
        recall.append(len(set(r) & set(ref_r[i])) / 100)
    assert np.mean(recall) >= 0.9


def test_save_load_round_trip(tmp_path) -> None:  # noqa: ANN001
    db, which = clustered_codes(1500, 128, 6, 0.05, 2)
    tree = SemanticTree.build(db, [f"c{w}" for w in which])
    tree.save(tmp_path / "tree.npz")
    again = SemanticTree.load(tmp_path / "tree.npz")
    assert again.names == tree.names and np.array_equal(again.radii, tree.radii)
    assert all(np.array_equal(a, b) for a, b in zip(again.members, tree.members, strict=True))
    _check_exact(again, db, db[:3], 20)
