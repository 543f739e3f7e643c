"""The model package's error, in a module of its own so every model module can raise it."""

from __future__ import annotations

from terrahash.errors import TerraHashError


class ModelError(TerraHashError):
    """A run folder, checkpoint or weights file is missing, corrupt or incompatible."""
