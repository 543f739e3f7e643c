"""The loss interface: a hashing objective is a module over tensors, registered by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from terrahash.model.ccls2t import HashOutputs


@dataclass
class LossInputs:
    """Tensors a hashing objective may read for one batch.

    Attributes:
        out: the forward pass over the (first) augmented view.
        labels: multi-hot labels (N, C), ``None`` in unsupervised mode.
        targets: the label sets' hash centres (N, K) in +-1, when the method uses centres.
        features, feature_mask: the R2STFT numbers (N, F) and validity (N, F).
        text_group: id of each item's prompt (N,); equal ids are identical prompts.
        second_view: forward pass over a second augmentation (methods with ``two_views``).
        step: optimisation steps done so far; progress: fraction of training done (0-1).
        index: each item's row in the training set (N,), in ``0..n_train-1``: methods that
            keep state per training item (DPSH's and HashNet's code buffers) key it by this.
        n_train: number of training items, the size of such state.
    """

    out: HashOutputs
    labels: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    features: torch.Tensor | None = None
    feature_mask: torch.Tensor | None = None
    text_group: torch.Tensor | None = None
    second_view: HashOutputs | None = None
    step: int = 0
    progress: float = 0.0
    index: torch.Tensor | None = None
    n_train: int = 0


class HashLoss(nn.Module):
    """Base of every objective; subclasses register under ``name`` when defined."""

    #: Name used by ``--method``.
    name: ClassVar[str] = ""
    #: Paper reference shown in reports.
    reference: ClassVar[str] = ""
    #: Whether the method trains the text branch (baselines are image-only, as published).
    uses_text: ClassVar[bool] = False
    #: Whether labels are required.
    needs_labels: ClassVar[bool] = True
    #: Whether the trainer must supply a second augmented view.
    two_views: ClassVar[bool] = False
    #: Whether ``targets`` (hash centres) are used.
    uses_centres: ClassVar[bool] = False

    registry: ClassVar[dict[str, type[HashLoss]]] = {}

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            HashLoss.registry[cls.name] = cls

    @property
    def settings(self) -> dict[str, float]:
        """The scalar hyperparameters, recorded in the run's config (``loss_settings``)."""
        return {}

    def forward(self, inputs: LossInputs) -> dict[str, torch.Tensor]:  # pragma: no cover
        """Named loss terms; ``"loss"`` is the total that is minimised."""
        raise NotImplementedError
