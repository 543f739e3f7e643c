"""The text-branch study's verdict: paired by seed, decided on validation only."""

from __future__ import annotations

from bench.text_study import consistent_gain, verdict


def _rows(val: dict[str, list[float]], test: dict[str, list[float]],
          val_fused: dict[str, list[float]] | None = None) -> list[dict[str, object]]:
    """Rows as ``text_study`` writes them; fused-query scores only where given."""
    return [{"variant": v, "seed": s, "val_map@100": val[v][s], "map@100_all": test[v][s],
             "map@100_metadata": test[v][s],
             **({"val_map@100_fused": val_fused[v][s], "map@100_fused": 1.0 - val_fused[v][s]}
                if val_fused else {})}
            for v in val for s in range(3)]


def test_metadata_dropout_is_judged_against_no_text_on_validation() -> None:
    val = {"ccls2t": [0.50, 0.52, 0.51], "ccls2t --no-text": [0.50, 0.53, 0.50],
           "ccls2t --no-itc": [0.50, 0.50, 0.50], "ccls2t --meta-dropout 0.5": [0.55, 0.56, 0.555]}
    # the test split says the opposite: it must not change the verdict
    test = {v: [1.0 - x for x in xs] for v, xs in val.items()}
    lines = verdict(_rows(val, test))
    said = "**On validation, for image queries, the text branch {} against --no-text on this mixed set.**"
    assert said.format("shows no consistent gain or loss") in lines
    assert said.format("with metadata dropout helps") in lines
    assert any(line.startswith("metadata dropout 0.5 vs none, validation: +0.0450") for line in lines)


def test_a_consistent_gain_needs_every_seed_and_a_mean_beyond_the_noise() -> None:
    import numpy as np

    assert consistent_gain(np.array([0.02, 0.021, 0.019]))
    assert not consistent_gain(np.array([0.05, 0.001, 0.0005]))  # every seed, but within the spread
    assert not consistent_gain(np.array([0.05, 0.04, -0.01]))
    assert not consistent_gain(np.array([0.05]))  # one seed decides nothing


def test_a_consistent_loss_on_validation_is_said_as_such() -> None:
    val = {"ccls2t": [0.50, 0.52, 0.51], "ccls2t --no-text": [0.53, 0.55, 0.54]}
    lines = verdict(_rows(val, val))
    assert ("**On validation, for image queries, the text branch hurts against --no-text on this mixed set.**"
            in lines)
    assert not any("image + metadata" in line for line in lines)  # not scored: nothing said


def test_image_plus_metadata_queries_are_judged_on_their_own_validation_score() -> None:
    """Metadata can help the query that carries it even where image queries see no gain."""
    val = {"ccls2t": [0.50, 0.52, 0.51], "ccls2t --no-text": [0.50, 0.53, 0.50],
           "ccls2t --fusion film": [0.48, 0.51, 0.48]}
    # a --no-text model's fused code is its image code
    val_fused = {**val, "ccls2t": [0.55, 0.57, 0.56], "ccls2t --fusion film": [0.50, 0.53, 0.49]}
    lines = verdict(_rows(val, val, val_fused))
    said = "**On validation, for {}, the text branch{} {} against --no-text on this mixed set.**"
    assert said.format("image queries", "", "shows no consistent gain or loss") in lines
    assert said.format("image + metadata queries", "", "helps") in lines
    assert said.format("image queries", " with FiLM fusion", "hurts") in lines
    no_change = "shows no consistent gain or loss"
    assert said.format("image + metadata queries", " with FiLM fusion", no_change) in lines
    assert any(line.startswith("text branch vs --no-text, validation, image + metadata queries: +0.0500")
               for line in lines)
