"""Hashing objectives, one module per method, registered by ``name`` (``--method``)."""

from terrahash.train.losses import ccls2t, csq, dpsh, hashnet, orthohash, unsupervised  # noqa: F401 - register
from terrahash.train.losses.base import HashLoss, LossInputs


def list_methods() -> list[str]:
    """Names accepted by ``terrahash train --method``."""
    return sorted(HashLoss.registry)


def get_loss_class(name: str) -> type[HashLoss]:
    """The objective registered as ``name``; ``ValueError`` lists the known ones."""
    if name not in HashLoss.registry:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(list_methods())}")
    return HashLoss.registry[name]


__all__ = ["HashLoss", "LossInputs", "get_loss_class", "list_methods"]
