"""Run folders: ``config.json`` + ``model.safetensors``, written together, checked on load.

Loading refuses anything it cannot trust (missing or truncated weights, a config edited
to a different bit length, a prompt template the model never saw) with a message naming
the file, because a silently mismatched model produces plausible-looking wrong codes.
"""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from terrahash.metadata.prompt import TEMPLATE_VERSION
from terrahash.model.ccls2t import CCLS2T, SUPPORTED_BITS
from terrahash.model.errors import ModelError
from terrahash.model.factory import create_model
from terrahash.model.tokenizer import PromptTokenizer

#: A run's parsed ``config.json`` (keys listed in ``terrahash.train.run.train``).
RunConfig = dict[str, Any]
#: Version of the run-folder layout (``config.json`` keys).
RUN_SCHEMA_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
_REQUIRED = (
    "schema_version",
    "model",
    "bits",
    "method",
    "use_text",
    "image_size",
    "normalization",
    "tokenizer",
    "template_version",
)


def save_run(run_dir: Path, model: CCLS2T, config: RunConfig) -> None:
    """Write ``config.json`` and ``model.safetensors`` (weights first, config last)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    save_file(state, str(run_dir / WEIGHTS_FILE), metadata={"bits": str(model.bits)})
    (run_dir / CONFIG_FILE).write_text(json.dumps(config, indent=1, sort_keys=True))


def read_config(run_dir: Path) -> RunConfig:
    """Parse and validate a run's ``config.json``."""
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise ModelError(f"{run_dir}: error: not a run folder (train one with `terrahash train`)")
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: error: missing; is {run_dir} a finished training run?") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: error: not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{path}: error: expected a JSON object")
    missing = [k for k in _REQUIRED if k not in config]
    if missing:
        raise ModelError(f"{path}: error: missing keys {', '.join(missing)}")
    if int(config["schema_version"]) > RUN_SCHEMA_VERSION:
        raise ModelError(
            f"{path}: error: schema_version {config['schema_version']} is newer than this "
            f"TerraHash understands ({RUN_SCHEMA_VERSION}); upgrade terrahash"
        )
    if config["bits"] not in SUPPORTED_BITS or config["model"].get("bits") != config["bits"]:
        raise ModelError(
            f"{path}: error: bits {config['bits']!r} is invalid or disagrees with the model block "
            f"({config['model'].get('bits')!r}); expected one of {SUPPORTED_BITS}"
        )
    if int(config["template_version"]) != TEMPLATE_VERSION:
        raise ModelError(
            f"{path}: error: model trained on prompt template v{config['template_version']}, "
            f"this TerraHash renders v{TEMPLATE_VERSION}; retrain the model"
        )
    return config


def load_run(run_dir: str | Path) -> tuple[CCLS2T, PromptTokenizer, RunConfig]:
    """Rebuild the model and tokenizer of a run and load its weights (eval mode)."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    tokenizer = PromptTokenizer.from_dict(config["tokenizer"])
    model, _ = create_model(dict(config["model"]), tokenizer, use_text=bool(config["use_text"]))
    path = run_dir / WEIGHTS_FILE
    try:
        state = load_file(str(path))
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: error: missing weights file") from exc
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{path}: error: corrupt or truncated weights ({exc})") from exc
    check_state(model, state, path)
    model.load_state_dict(state)
    model.eval()
    return model, tokenizer, config


def check_state(model: torch.nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Raise ``ModelError`` when ``state`` does not fit ``model`` key for key, shape for shape."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ModelError(
            f"{path}: error: weights do not match {CONFIG_FILE} "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for key, value in own.items():
        if state[key].shape != value.shape:
            raise ModelError(
                f"{path}: error: weights do not match {CONFIG_FILE}: {key} has shape "
                f"{tuple(state[key].shape)}, the config builds {tuple(value.shape)}"
            )


def read_checkpoint(file: Path) -> dict[str, Any]:
    """A resumable checkpoint, loaded with ``weights_only=True``: tensors and plain values only,
    so a file from elsewhere cannot run code when read.

    Raises:
        ModelError: the file holds other Python objects (or is not a checkpoint at all).
    """
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own text advises weights_only=False: name only the object it refused.
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found is None:
            raise ModelError(f"{file}: error: cannot read this checkpoint (not a PyTorch file)") from exc
        raise ModelError(
            f"{file}: error: refusing to resume: the checkpoint holds Python objects other than "
            f"tensors and plain values ({found.group(1)}); it was not written by this TerraHash "
            "(or by an older one): train again without --resume"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - truncated, not a torch file, ...
        raise ModelError(f"{file}: error: cannot read this checkpoint ({exc})") from exc
    if not isinstance(state, dict):
        raise ModelError(f"{file}: error: expected a checkpoint dict, got {type(state).__name__}")
    return state
