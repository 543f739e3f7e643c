"""Tuning picks on validation scores only, and ``terrahash train`` takes what it picked."""

from __future__ import annotations

import re

import pytest

from bench.tune import KNOBS, SCORE, choose, grid, parse_method_lrs, updated_defaults
from terrahash.train import defaults
from terrahash.train.losses import list_methods
from terrahash.train.run import TrainOptions


def test_every_knob_is_a_setting_of_its_method() -> None:
    for method, (knob, values) in KNOBS.items():
        assert method in list_methods() and len(values) == 2
        TrainOptions(method=method, loss_settings={knob: values[1]}).validate()
    assert len(grid(list(KNOBS), [1e-3, 2e-3])) == 4 * len(KNOBS)  # the same budget for every method
    # each method's own grid: still three learning rates a factor of 2 apart, six runs each
    for method in KNOBS:
        lrs = sorted({lr for m, lr, _, _ in grid([method]) if m == method})
        assert len(lrs) == 3 and lrs[1] == pytest.approx(2 * lrs[0]) and lrs[2] == pytest.approx(2 * lrs[1])
        assert len(grid([method])) == 6


def test_a_method_can_get_its_own_learning_rates_over_the_shared_ones() -> None:
    overrides = parse_method_lrs(["hashnet=0.00025,0.0005"])
    assert overrides == {"hashnet": (0.00025, 0.0005)}
    rows = grid(["csq", "hashnet"], [1e-3, 2e-3], overrides)
    assert {lr for m, lr, _, _ in rows if m == "hashnet"} == {0.00025, 0.0005}
    assert {lr for m, lr, _, _ in rows if m == "csq"} == {1e-3, 2e-3}
    assert len(rows) == 8  # two rates x two knob values each: the same budget
    for bad, said in (("nope=0.1", "unknown method 'nope'"), ("dpsh=", "expected METHOD=LR[,LR...]"),
                      ("dpsh=fast", "expected METHOD=LR[,LR...]")):
        with pytest.raises(SystemExit, match=re.escape(said)):
            parse_method_lrs([bad])


def test_choose_takes_the_best_validation_score_and_skips_unscored() -> None:
    rows = [
        {"method": "dpsh", "lr": 1e-3, "knob": "eta", "value": 0.1, SCORE: 0.5},
        {"method": "dpsh", "lr": 2e-3, "knob": "eta", "value": 0.1, SCORE: 0.7},
        {"method": "dpsh", "lr": 5e-4, "knob": "eta", "value": 1.0, SCORE: 0.7},  # tie: the earlier stays
        {"method": "csq", "lr": 1e-3, "knob": "quant_weight", "value": 0.1, SCORE: None},
    ]
    chosen = choose(rows)
    assert list(chosen) == ["dpsh"] and chosen["dpsh"]["lr"] == 2e-3


def test_chosen_defaults_reach_train_options(monkeypatch: pytest.MonkeyPatch) -> None:
    row = {"method": "hashnet", "lr": 5e-4, "knob": "alpha", "value": 0.2, SCORE: 0.6}
    table = updated_defaults({"methods": {"csq": {"lr": 1e-3}}}, {"hashnet": row}, {"commit": "abc"})
    assert set(table["methods"]) == {"csq", "hashnet"}
    monkeypatch.setattr(defaults, "_table", lambda: table)
    opts = TrainOptions(method="hashnet")
    assert opts.lr == 5e-4 and opts.loss_settings == {"alpha": 0.2}
    given = TrainOptions(method="hashnet", lr=1e-2, loss_settings={"alpha": 0.3})
    assert given.lr == 1e-2 and given.loss_settings == {"alpha": 0.3}
    assert TrainOptions(method="dpsh").lr == defaults.DEFAULT_LR
