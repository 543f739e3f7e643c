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

#: Learning rate of a method the tuning has not covered (the one tuned for CCLS2T by hand).
DEFAULT_LR = 2e-3
#: File name of the chosen defaults inside ``terrahash.train``.
DEFAULTS_FILE = "method_defaults.json"


@cache
def _table() -> dict[str, Any]:
    text = files("terrahash.train").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def method_defaults(method: str) -> dict[str, Any]:
    """``{"lr": float, "loss_settings": {name: value}}`` for ``method``, chosen on validation.

    Untuned methods get ``DEFAULT_LR`` and no loss settings (the loss's own defaults).
    """
    chosen = _table().get("methods", {}).get(method, {})
    return {"lr": float(chosen.get("lr", DEFAULT_LR)), "loss_settings": dict(chosen.get("loss_settings", {}))}
