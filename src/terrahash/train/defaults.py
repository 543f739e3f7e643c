"""Per-method training defaults chosen on the validation part (``bench/tune.py`` writes them).

Each method gets its own learning rate and loss settings, found with the same search
budget for every method and scored only on the validation part carved from the training
items (issue 13: no choice is made on test scores). ``method_defaults.json`` beside this
module records the choice and where it came from; a method it does not list trains with
``DEFAULT_LR`` and its loss's own (reference) settings.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

#: Training epochs of ``terrahash train``, chosen with the input size on UC Merced's
#: validation part within a 10-minute budget on 2 CPU cores (``bench/results/resolution.md``):
#: from the shipped backbone, 80 epochs at 64 px beat 50 by more than the validation noise
#: and still fit the budget; larger inputs fit too few epochs in it.
DEFAULT_EPOCHS = 80
#: Learning rate of a method the tuning has not covered (the one tuned for CCLS2T by hand).
DEFAULT_LR = 2e-3
#: File name of the chosen defaults inside ``terrahash.train``.
DEFAULTS_FILE = "method_defaults.json"
#: Input normalisation (``--input-norm``): ``dataset`` statistics, or each ``image``'s own.
INPUT_NORMS = ("dataset", "image")
#: Per-method input normalisation where it is not ``dataset``. Unlabelled archives are
#: searched across dates and scenes whose stretches differ by a gain and an offset per image:
#: on the validation half of the same-place benchmark (``bench/results/sameplace-input-norm/``,
#: 1 epoch from the shipped backbone, re-measured with upright temporal pairs: recall@10
#: 0.106 vs 0.061 with ``dataset``)
#: ``image`` is what lets codes find the same ground again.
METHOD_INPUT_NORM = {"unsupervised": "image"}
#: Learning rate of a pretrained vision trunk relative to the new layers
#: (``--backbone-lr-scale``), chosen on UC Merced's validation part: 1 over 0.3, first from a
#: 6-epoch backbone and again from the shipped one (``bench/results/compare_trunk-lr.md``).
PRETRAINED_TRUNK_LR_SCALE = 1.0


@cache
def _table() -> dict[str, Any]:
    text = files("terrahash.train").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def method_defaults(method: str) -> dict[str, Any]:
    """``{"lr", "loss_settings", "input_norm"}`` for ``method``, chosen on validation.

    Untuned methods get ``DEFAULT_LR`` and no loss settings (the loss's own defaults).
    """
    chosen = _table().get("methods", {}).get(method, {})
    return {"lr": float(chosen.get("lr", DEFAULT_LR)), "loss_settings": dict(chosen.get("loss_settings", {})),
            "input_norm": str(chosen.get("input_norm", METHOD_INPUT_NORM.get(method, "dataset")))}
