"""bench/rerank.py's choice: validation decides the factor within the latency target, and a
latency that misses the target everywhere is reported, not a crash."""

from __future__ import annotations

from typing import Any

from bench.rerank import TARGET_ADDED, decide
from terrahash.app.build import VECTOR_KIND


def _report(added: dict[int, float]) -> dict[str, Any]:
    val = {1: 0.70, 2: 0.72, 4: 0.73}
    rows = [{"source": "hamming", "factor": None, "map@100": 0.69}]
    rows += [{"source": f"tanh_hash/{VECTOR_KIND}", "factor": f, "map@100": m} for f, m in val.items()]
    rows += [{"source": "pre_hash/image", "factor": 2, "map@100": 0.60}]
    return {"quality": {"splits": {"validation": {"rows": rows}}},
            "latency": {"rows": [{"factor": None, "added": 0.0}]
                        + [{"factor": f, "added": a} for f, a in added.items()]}}


def test_best_validation_factor_within_the_latency_target() -> None:
    choice = decide(_report({1: 0.10, 2: TARGET_ADDED - 0.01, 4: TARGET_ADDED + 0.01}))
    assert (choice["source"], choice["factor"], choice["latency_target_met"]) == ("tanh_hash", 2, True)
    assert choice["val_map@100"] == 0.72


def test_every_factor_over_the_target_takes_the_cheapest_and_says_so() -> None:
    choice = decide(_report({1: 0.90, 2: 0.35, 4: 0.46}))
    assert (choice["factor"], choice["latency_target_met"], choice["added_latency"]) == (2, False, 0.35)
