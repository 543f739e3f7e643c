"""Models: tensors -> embeddings -> binary hash codes (CCLS2T and the baselines' backbone)."""

from terrahash.model.checkpoint import ModelError
from terrahash.model.factory import create_model, get_model_config, list_models
from terrahash.model.runtime import QUERY_KINDS, HashModel, hamming, load_model, pack_codes

__all__ = [
    "QUERY_KINDS",
    "HashModel",
    "ModelError",
    "create_model",
    "get_model_config",
    "hamming",
    "list_models",
    "load_model",
    "pack_codes",
]
