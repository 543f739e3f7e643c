"""Model configs by name (``model/configs/*.json``) and the one function that builds models."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

from terrahash.model.ccls2t import CCLS2T
from terrahash.model.tokenizer import PromptTokenizer

CONFIG_DIR = Path(__file__).parent / "configs"
DEFAULT_MODEL = "ccls2t-small"


@cache
def _configs() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(CONFIG_DIR.glob("*.json"))}


def list_models() -> list[str]:
    """Names of the shipped architecture configs."""
    return sorted(_configs())


def get_model_config(name: str = DEFAULT_MODEL) -> dict[str, Any]:
    """A copy of a named architecture config; ``ValueError`` lists the known names."""
    configs = _configs()
    if name not in configs:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(configs))}")
    return copy.deepcopy(configs[name])


def create_model(
    config: dict[str, Any], tokenizer: PromptTokenizer | None = None, use_text: bool = True
) -> tuple[CCLS2T, PromptTokenizer]:
    """Build a model and the tokenizer it reads (the vocabulary sizes the embedding)."""
    text_cfg = config.setdefault("text", {})
    tokenizer = tokenizer or PromptTokenizer(max_length=int(text_cfg.get("max_length", 80)))
    text_cfg["max_length"] = tokenizer.max_length
    return CCLS2T(config, vocab_size=len(tokenizer), use_text=use_text), tokenizer
