"""Models: tensors -> embeddings -> binary hash codes (CCLS2T and the baselines' backbone).

Packing and Hamming distances are :mod:`terrahash.codes` (``pack_bits``, ``rowwise_hamming``).
"""

from terrahash.model.errors import ModelError
from terrahash.model.factory import create_model, get_model_config, list_models
from terrahash.model.runtime import QUERY_KINDS, HashModel, load_model

__all__ = [
    "QUERY_KINDS",
    "HashModel",
    "ModelError",
    "create_model",
    "get_model_config",
    "list_models",
    "load_model",
]
