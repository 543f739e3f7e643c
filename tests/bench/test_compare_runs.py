"""bench/compare_runs.py: seed runs are averaged together, other set-ups never."""

from __future__ import annotations

from typing import Any

import pytest

from bench.compare_runs import by_backbone
from bench.readme import validation_spread


def _run(method: str, seed: int, val: float, test: float, use_text: bool | None = None,
         sha: str = "ab" * 32) -> dict[str, Any]:
    return {"method": method, "backbone": "b", "backbone_sha256": sha, "seed": seed, "val_map@100": val,
            "test_map@100": test, "setup": {"epochs": 50, "use_text": use_text}}


def test_runs_that_differ_only_in_their_seed_share_a_mean() -> None:
    rows = [_run("ccls2t", 0, 0.92, 0.91), _run("ccls2t", 1, 0.90, 0.93),
            _run("ccls2t", 0, 0.80, 0.80, use_text=True),  # another set-up: --text
            _run("ccls2t", 0, 0.70, 0.70, sha="cd" * 32),  # another backbone
            _run("orthohash", 0, 0.91, 0.95), _run("orthohash", 1, 0.89, 0.95)]
    groups = by_backbone(rows)
    assert [(g["method"], g["runs"], g["seeds"]) for g in groups] == [
        ("ccls2t", 2, [0, 1]), ("ccls2t", 1, [0]), ("ccls2t", 1, [0]), ("orthohash", 2, [0, 1])]
    assert groups[0]["val_map@100_mean"] == pytest.approx(0.91)
    assert groups[0]["test_map@100_mean"] == pytest.approx(0.92)
    line = validation_spread({"by_backbone": [groups[0], groups[3]]})
    # validation ranks ccls2t first (0.910 vs 0.900), the test part orthohash: both are said
    assert "ccls2t 0.910; orthohash 0.900" in line
    assert line.endswith("First on validation: ccls2t; on test: orthohash.")
