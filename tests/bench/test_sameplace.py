"""The same-place protocol (bench/sameplace.py): footprint overlap, ground truth on real tiles, metrics.

No training: the ground truth is checked on the two real Sentinel-2 dates, the metrics on
rankings whose answer is known (oracle, reversed, random against the exact chance level).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench.common import read_manifest
from bench.sameplace import (
    ProtocolError,
    build_protocol,
    chance_ap,
    chance_metrics,
    chance_recall,
    cut_tiles,
    first_relevant_rank,
    ranked_relevance,
    recall_curve,
    sameplace_metrics,
    split_queries,
)
from terrahash.data import default_data_dir
from terrahash.evaluate import EvaluationError
from terrahash.evaluate.overlap import box_areas, overlap_fraction, overlap_relevance

RASTERS = default_data_dir() / "rasters" / "sentinel2_brandenburg"
needs_rasters = pytest.mark.skipif(not RASTERS.is_dir(), reason="shared Sentinel-2 rasters not found")


# -- overlap -------------------------------------------------------------------------------
def test_overlap_fraction_of_simple_boxes() -> None:
    query = np.array([[10.0, 50.0, 10.1, 50.1]])
    db = np.array([
        [10.0, 50.0, 10.1, 50.1],  # the same box
        [10.05, 50.0, 10.15, 50.1],  # half of it
        [10.2, 50.0, 10.3, 50.1],  # beside it
        [9.0, 49.0, 11.0, 51.0],  # around it
    ])
    assert overlap_fraction(query, db)[0] == pytest.approx([1.0, 0.5, 0.0, 1.0])
    assert overlap_relevance(query, db).tolist() == [[True, True, False, True]]
    assert overlap_relevance(query, db, 0.6).tolist() == [[True, False, False, True]]


def test_overlap_is_relative_to_the_query_and_uses_spherical_area() -> None:
    small, big = np.array([[0.0, 0.0, 1.0, 1.0]]), np.array([[0.0, 0.0, 2.0, 2.0]])
    assert overlap_fraction(small, big)[0, 0] == pytest.approx(1.0)
    assert overlap_fraction(big, small)[0, 0] == pytest.approx(0.25, abs=1e-3)
    # a band near the pole holds less ground than one of equal degrees at the equator
    equator, polar = box_areas(np.array([[0.0, 0.0, 1.0, 1.0], [0.0, 80.0, 1.0, 81.0]]))
    assert polar / equator == pytest.approx(np.cos(np.deg2rad(80.5)), rel=1e-3)


def test_overlap_across_the_antimeridian() -> None:
    query = np.array([[179.0, 0.0, -179.0, 1.0]])  # 2 degrees wide, crossing 180
    db = np.array([[-179.5, 0.0, -178.0, 1.0], [178.0, 0.0, 179.5, 1.0], [170.0, 0.0, 171.0, 1.0]])
    assert overlap_fraction(query, db)[0] == pytest.approx([0.25, 0.25, 0.0])
    assert overlap_fraction(db[:1], query)[0, 0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("boxes", [[[0.0, 1.0, 1.0, 0.0]], [[0.0, 0.0, 200.0, 1.0]], [[0.0, 0.0, 1.0]],
                                   [[0.0, np.nan, 1.0, 1.0]]])
def test_malformed_boxes_are_refused(boxes: list[list[float]]) -> None:
    with pytest.raises(EvaluationError, match="boxes"):
        overlap_fraction(np.array(boxes), np.array([[0.0, 0.0, 1.0, 1.0]]))


def test_a_query_without_area_is_refused() -> None:
    with pytest.raises(EvaluationError, match="zero area"):
        overlap_fraction(np.array([[1.0, 1.0, 1.0, 2.0]]), np.array([[0.0, 0.0, 2.0, 2.0]]))


# -- ground truth on the real tiles ---------------------------------------------------------
@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not RASTERS.is_dir():
        pytest.skip("shared Sentinel-2 rasters not found")
    return cut_tiles(RASTERS, tmp_path_factory.mktemp("sameplace") / "tiles", 64)


@needs_rasters
def test_protocol_on_the_two_sentinel2_dates(tiles: Path) -> None:
    p = build_protocol(tiles)
    assert (p.query_date, p.db_date) == ("2016-05-29", "2016-06-08")
    assert len(p.db_ids) > 1000 and len(p.query_ids) > 1000
    assert p.no_relevant > 0  # the rasters overlap only in part: edge queries have no match
    assert all(item.startswith("S2A_20160608") for rel in p.relevant for item in rel)
    assert all(q.stem.startswith("S2A_20160529") and q.is_file() for q in p.query_paths)
    # the grids are offset by half a tile: one or two relevant tiles, each covering about half
    assert set(p.n_relevant.tolist()) <= {1, 2}
    assert np.all((p.best_overlap >= 0.5) & (p.best_overlap < 0.55))
    # relevance is geography: a relevant tile's centre lies within a tile edge of the query's
    rows = {r["id"]: r for r in read_manifest(tiles)[1]}
    for qid, rel in zip(p.query_ids[:200], p.relevant[:200], strict=True):
        q = rows[qid]
        for item in rel:
            d_lon = abs(float(rows[item]["lon"]) - float(q["lon"])) * np.cos(np.deg2rad(float(q["lat"])))
            d_lat = abs(float(rows[item]["lat"]) - float(q["lat"]))
            assert np.hypot(d_lon, d_lat) * 111_320 < 640  # metres: one 64 px tile at 10 m
    # no database tile covers 90 % of any query: a clear error, not an empty benchmark
    with pytest.raises(ProtocolError, match="no 2016-05-29 tile has a 2016-06-08 tile covering 90%"):
        build_protocol(tiles, min_overlap=0.9)


# -- metrics -----------------------------------------------------------------------------------
def test_split_is_seeded_disjoint_and_complete() -> None:
    a, b = split_queries(101, 0), split_queries(101, 0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not set(a["validation"]) & set(a["test"])
    assert sorted([*a["validation"], *a["test"]]) == list(range(101))
    assert not np.array_equal(split_queries(101, 1)["test"], a["test"])


def test_metrics_of_known_rankings() -> None:
    db = [f"t{i}" for i in range(50)]
    relevant = [{"t3"}, {"t7", "t8"}, {"t40"}]
    oracle = [[*sorted(rel), *[d for d in db if d not in rel]] for rel in relevant]
    rel = ranked_relevance(oracle, relevant, len(db))
    m = sameplace_metrics(rel, np.array([1, 2, 1]))
    assert (m["median_first_rank"], m["recall@1"], m["recall@10"], m["map@100"]) == (1.0, 1.0, 1.0, 1.0)
    in_order = ranked_relevance([db] * 3, relevant, len(db))
    assert first_relevant_rank(in_order).tolist() == [4.0, 8.0, 41.0]
    assert recall_curve(in_order, (1, 5, 10, 50)) == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    m = sameplace_metrics(in_order, np.array([1, 2, 1]))
    assert m["median_first_rank"] == 8.0
    assert m["map@100"] == pytest.approx(np.mean([1 / 4, (1 / 8 + 2 / 9) / 2, 1 / 41]))
    # a short list that misses the relevant items ranks nothing
    assert np.isnan(first_relevant_rank(ranked_relevance([db[:3]], [{"t9"}], 10))[0])


def test_chance_level_matches_random_rankings() -> None:
    rng = np.random.default_rng(0)
    n_db, n_relevant = 300, np.array([1, 2] * 40)
    db = [f"t{i}" for i in range(n_db)]
    relevant = [set(rng.choice(db, size=r, replace=False).tolist()) for r in n_relevant]
    hits, firsts = [], []
    for _ in range(60):
        ranked = [rng.permutation(db).tolist() for _ in relevant]
        rel = ranked_relevance(ranked, relevant, n_db)
        hits.append(recall_curve(rel, (10,))[0])
        firsts.append(np.mean(first_relevant_rank(rel)))
    chance = chance_metrics(n_relevant, n_db, chance_ap(n_relevant, n_db, draws=30))
    exact = 1 - (0.5 * 290 / 300 + 0.5 * 290 * 289 / 300 / 299)  # P(miss) of R = 1 and R = 2, k = 10
    assert chance_recall(n_relevant, n_db, 10) == pytest.approx(exact)
    assert np.mean(hits) == pytest.approx(chance["recall@10"], abs=0.01)
    assert np.mean(firsts) == pytest.approx(chance["mean_first_rank"], rel=0.05)
    assert 0 < chance["map@100"] < 0.05


def test_the_variant_is_chosen_on_the_validation_half_only() -> None:
    """Test-half figures never decide: the better validation recall@10 wins, ties go first."""
    from bench.sameplace import choose

    def variant(name: str, val: float, test: float) -> dict:
        return {"name": name, "rerank": {"validation": {"recall@10": val}, "test": {"recall@10": test}}}

    assert choose([variant("e3", 0.12, 0.30), variant("e8", 0.15, 0.10)]) == "e8"
    assert choose([variant("e3", 0.15, 0.10), variant("e8", 0.15, 0.90)]) == "e3"
    assert choose([]) is None
