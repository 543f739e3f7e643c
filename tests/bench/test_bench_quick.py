"""Smoke tests of the benchmark helpers (formatting, ratios, multi-source labels, filters); no training."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.common import (
    MULTISOURCE_COLUMNS,
    best_baseline,
    boxes_intersect,
    fmt,
    fmt_ratio,
    map_source_labels,
    markdown_table,
    multisource_rows,
    ratio,
    record_matches,
    sample_per_label,
    write_manifest,
)
from terrahash.data import default_data_dir, load_dataset
from terrahash.metadata.record import SceneRecord, polygon
from terrahash.taxonomy import load_taxonomy

SCENES = default_data_dir() / "scenes"
needs_data = pytest.mark.skipif(not (SCENES / "ucmerced").is_dir(), reason="shared scene data not found")


def test_fmt_and_ratio() -> None:
    assert fmt(0.123456) == "0.1235"
    assert fmt(float("nan")) == "–" and fmt(None) == "–"
    assert fmt(12) == "12"
    assert ratio(0.6, 0.5) == pytest.approx(1.2)
    assert ratio(0.6, 0.0) is None and ratio(None, 0.5) is None and ratio(math.nan, 0.5) is None
    assert fmt_ratio(1.1164) == "1.116x (+11.6 %)"
    assert fmt_ratio(0.9) == "0.900x (-10.0 %)"
    assert fmt_ratio(None) == "–"


def test_best_baseline_ignores_ccls2t_and_nan() -> None:
    rows = [
        {"variant": "ccls2t", "map@100": 0.9},
        {"variant": "dpsh", "map@100": 0.4},
        {"variant": "csq", "map@100": 0.55},
        {"variant": "hashnet", "map@100": float("nan")},
    ]
    assert best_baseline(rows, "map@100") == ("csq", 0.55)
    assert best_baseline([{"variant": "ccls2t", "map@100": 0.9}], "map@100") == (None, None)


def test_markdown_table_shape_and_errors() -> None:
    table = markdown_table(("a", "b"), [["x", 0.5], ["y", None]])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| x | 0.5000 |", "| y | – |"]
    with pytest.raises(ValueError, match="row has 1 cells"):
        markdown_table(("a", "b"), [["x"]])


def test_sample_per_label_is_seeded_and_capped() -> None:
    labels = ["a"] * 5 + ["b"] * 2
    picked = sample_per_label(labels, 3, seed=1)
    assert picked == sorted(picked) and sum(labels[i] == "a" for i in picked) == 3
    assert sum(labels[i] == "b" for i in picked) == 2
    assert picked == sample_per_label(labels, 3, seed=1)
    assert sample_per_label(labels, None) == list(range(7))


def test_map_source_labels_joins_synonyms() -> None:
    tax = load_taxonomy()
    ucm = map_source_labels(["denseresidential", "airplane"], "ucmerced", tax)
    aid = map_source_labels(["DenseResidential", "Airport"], "aid", tax)
    assert ucm[0] == aid[0] == tax.map_label("denseresidential", "ucmerced")
    assert ucm[1] == aid[1]  # both hang under the airport node


@needs_data
def test_multisource_manifest_loads_with_mapped_labels(tmp_path: Path) -> None:
    tax = load_taxonomy()
    rows = multisource_rows({"ucmerced": SCENES / "ucmerced", "aid": SCENES / "aid"}, tax, per_label=1)
    assert {r["source_dataset"] for r in rows} == {"ucmerced", "aid"}
    assert len(rows) == len(tax.labels("ucmerced")) + len(tax.labels("aid"))
    dataset = load_dataset(write_manifest(tmp_path / "multisource", MULTISOURCE_COLUMNS, rows))
    assert len(dataset) == len(rows)
    # labels are taxonomy nodes shared across sources, so classes are fewer than 21 + 30
    assert set(dataset.classes) <= set(tax.nodes()) and len(dataset.classes) < len(rows)
    instruments = {item.record.instrument for item in dataset}
    assert len(instruments) == 2  # the sensor column keeps the two sources' records apart
    assert all(Path(item.path).is_absolute() and item.path.is_file() for item in dataset)


def _record(**kw: object) -> SceneRecord:
    base = {"source": "t", "format": "test", "id": "x"}
    return SceneRecord(**{**base, **kw})


def test_record_matches_filters() -> None:
    when = datetime(2017, 6, 13, 10, tzinfo=UTC)
    rec = _record(datetime=when, platform="sentinel-2a", cloud_cover=10.0, gsd_m=10.0,
                  footprint=polygon([(13.0, 48.0), (13.1, 48.0), (13.1, 48.1), (13.0, 48.1)]))
    assert record_matches(rec, {})
    assert record_matches(rec, {"bbox": (12.9, 47.9, 13.05, 48.05)})
    assert not record_matches(rec, {"bbox": (14.0, 47.9, 15.0, 48.05)})
    assert record_matches(rec, {"start": datetime(2017, 6, 13, tzinfo=UTC)})
    assert not record_matches(rec, {"end": datetime(2017, 6, 12, tzinfo=UTC)})
    assert record_matches(rec, {"platforms": ["Sentinel-2A"]})
    assert not record_matches(rec, {"platforms": ["landsat-8"]})
    assert not record_matches(rec, {"cloud_max": 5.0})
    assert not record_matches(_record(), {"cloud_max": 50.0})  # missing field never matches
    assert not record_matches(rec, {"gsd_max": 5.0})


def test_boxes_intersect_across_antimeridian() -> None:
    assert boxes_intersect((170.0, -10.0, -170.0, 10.0), (175.0, 0.0, 176.0, 1.0))
    assert boxes_intersect((170.0, -10.0, -170.0, 10.0), (-175.0, 0.0, -174.0, 1.0))
    assert not boxes_intersect((170.0, -10.0, -170.0, 10.0), (0.0, 0.0, 1.0, 1.0))
    assert not boxes_intersect((0.0, 0.0, 1.0, 1.0), (0.0, 2.0, 1.0, 3.0))
