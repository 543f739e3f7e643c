"""One training loop for every method: a method is a loss plus a config, never a new loop.

Hooks (``Callback``) observe steps and epochs: the progress bar, the metrics file and the
resumable checkpoint are hooks, so the loop itself stays short. Model selection uses a
validation split carved from the training items (never the test split).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from terrahash.data.transforms import augment, normalize
from terrahash.model.ccls2t import CCLS2T, HashOutputs
from terrahash.train.data import TrainingData
from terrahash.train.losses import HashLoss, LossInputs
from terrahash.train.pairs import draw_partners
from terrahash.train.validation import validate

#: One epoch's metrics: ``epoch``, the loss terms, ``lr``, ``images_per_s``, ``seconds`` and,
#: on validated epochs, ``val_map@100`` (NaN when nothing is relevant) and ``hamming_<a>_<b>``.
EpochRow = dict[str, float]


@dataclass
class TrainState:
    """What a hook may read, and what a resumable checkpoint stores.

    ``best_score`` is the best ``val_map@100`` so far; NaN when the kept epoch had no score
    to rank by (no labels, or no validation query with a relevant item).
    """

    epoch: int = 0
    step: int = 0
    history: list[EpochRow] = field(default_factory=list)
    best_score: float = -math.inf
    best_epoch: int = -1
    best_state: dict[str, torch.Tensor] | None = None


class Callback:
    """Hook points of ``Trainer.fit``; override what you need."""

    def on_fit_start(self, trainer: Trainer) -> None:
        """Before the first epoch (after a resume, too)."""

    def on_step_end(self, trainer: Trainer, n_images: int, logs: dict[str, float]) -> None:
        """After each optimisation step."""

    def on_epoch_end(self, trainer: Trainer, row: EpochRow) -> None:
        """After each epoch with its metrics row."""


#: Parameter names of the vision trunk (the part a pretrained backbone provides).
BACKBONE_PREFIX = "visual.backbone."


class Trainer:
    """Fits a ``CCLS2T`` model with any ``HashLoss``; AdamW with warm-up and cosine decay."""

    def __init__(
        self,
        model: CCLS2T,
        loss: HashLoss,
        data: TrainingData,
        *,
        epochs: int,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 5e-4,
        backbone_lr_scale: float = 1.0,
        seed: int = 0,
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.model, self.loss, self.data = model, loss, data
        self.epochs, self.batch_size = epochs, batch_size
        self.callbacks = list(callbacks)
        self.generator = torch.Generator().manual_seed(seed)
        self.state = TrainState()
        # Each item's row in the training set (-1 outside it): the key of per-item loss state.
        self.train_row = torch.full((len(data.images),), -1, dtype=torch.long)
        self.train_row[data.train_idx] = torch.arange(len(data.train_idx))
        self.optimizer, self.scheduler = self.configure_optimizer(lr, weight_decay, backbone_lr_scale)

    def configure_optimizer(
        self, lr: float, weight_decay: float, backbone_lr_scale: float = 1.0
    ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
        """AdamW (no decay on norms, biases and the temperature) with warm-up + cosine.

        ``backbone_lr_scale`` slows the vision trunk against the new layers: a pretrained
        trunk's features are the reason to start from it, and the full rate, sized for
        training from scratch, overwrites them in the first epochs.
        """
        groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
        for name, param in self.model.named_parameters():
            trunk = name.startswith(BACKBONE_PREFIX)
            decays = not (param.ndim <= 1 or "embedding" in name)
            groups.setdefault((trunk, decays), []).append(param)
        optimizer = torch.optim.AdamW(
            [{"params": params, "weight_decay": weight_decay if decays else 0.0,
              "lr": lr * (backbone_lr_scale if trunk else 1.0)}
             for (trunk, decays), params in groups.items()],
            lr=lr,
        )
        steps = max(1, self.steps_per_epoch * self.epochs)
        warmup = max(1, min(steps // 10, 2 * self.steps_per_epoch))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))) * 0.99 + 0.01

        return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

    @property
    def steps_per_epoch(self) -> int:
        """Full batches per epoch (a last partial batch is dropped: BatchNorm needs > 1 item)."""
        n = len(self.data.train_idx)
        return max(1, n // self.batch_size) if n >= self.batch_size else 1

    def _forward(
        self, batch: dict[str, torch.Tensor], keep_geometry: torch.Tensor | None = None
    ) -> HashOutputs:
        images = augment(
            normalize(batch["images"], self.data.mean, self.data.std, self.data.per_image), self.generator,
            keep_geometry=keep_geometry,
        )
        images = images.contiguous(memory_format=torch.channels_last)
        return self.model(
            images, batch.get("tokens"), batch.get("features"), batch.get("feature_mask"), self.generator
        )

    def _views(
        self, idx: torch.Tensor, batch: dict[str, torch.Tensor]
    ) -> tuple[HashOutputs, HashOutputs | None]:
        """The augmented batch, and for two-view objectives its second view.

        The second view is the items again, or where the archive has one, the same ground on
        another date. A temporal pair keeps its geometry in both views (brightness/contrast
        jitter only): acquisitions of an archive are north up, and so are the queries that
        look for the same ground in another one, so the orientation of field edges, roads and
        shores is the strongest sign that two images show the same ground; and two tiles of
        it share only part of their ground already (tile grids of two dates are rarely
        aligned), which a random crop of each would cut further. An item that is its own
        second view gets the random rotations, flips and crops of a scene-level augmentation.
        """
        if not self.loss.two_views:
            return self._forward(batch), None
        if self.data.partners is None:
            return self._forward(batch), self._forward({"images": batch["images"]})
        other = draw_partners(self.data.partners, idx, self.generator)
        paired = other != idx
        out = self._forward(batch, paired)
        return out, self._forward({"images": self.data.images[other]}, paired)

    def training_step(self, idx: torch.Tensor) -> dict[str, float]:
        """One optimisation step on items ``idx``; returns the loss terms as floats."""
        batch = self.data.batch(idx)
        out, second = self._views(idx, batch)
        labels = batch.get("labels")
        inputs = LossInputs(
            out=out,
            labels=None if labels is None else labels.float(),
            targets=batch.get("targets"),
            features=batch.get("features"),
            feature_mask=batch.get("feature_mask"),
            text_group=batch.get("text_group"),
            second_view=second,
            step=self.state.step,
            progress=self.state.step / max(1, self.steps_per_epoch * self.epochs),
            index=self.train_row[idx],
            n_train=len(self.data.train_idx),
        )
        terms = self.loss(inputs)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
        self.optimizer.step()
        self.scheduler.step()
        self.state.step += 1
        return {k: float(v.detach()) for k, v in terms.items()}

    def _should_validate(self, epoch: int) -> bool:
        return len(self.data.val_idx) > 0 and (epoch + 1 >= self.epochs / 2 or epoch + 1 == self.epochs)

    def _keep_if_best(self, score: float) -> None:
        """Keep the current weights when ``score`` is the best so far.

        A NaN score ranks nothing (no labels, or no validation query with a relevant item):
        the latest validated epoch is kept then.
        """
        best = self.state.best_score
        if math.isnan(score) or math.isnan(best) or score >= best:
            self.state.best_score = score
            self.state.best_epoch = self.state.epoch + 1
            self.state.best_state = copy.deepcopy(self.model.state_dict())

    def fit(self) -> TrainState:
        """Train from ``state.epoch`` to ``epochs``; keeps the best validation weights."""
        for cb in self.callbacks:
            cb.on_fit_start(self)
        n_train = len(self.data.train_idx)
        while self.state.epoch < self.epochs:
            self.model.train()
            order = self.data.train_idx[torch.randperm(n_train, generator=self.generator)]
            sums: dict[str, float] = {}
            seen, start = 0, time.perf_counter()
            for b in range(self.steps_per_epoch):
                idx = order[b * self.batch_size : (b + 1) * self.batch_size]
                logs = self.training_step(idx)
                for key, value in logs.items():
                    sums[key] = sums.get(key, 0.0) + value * len(idx)
                seen += len(idx)
                for cb in self.callbacks:
                    cb.on_step_end(self, len(idx), logs)
            seconds = time.perf_counter() - start
            row: EpochRow = {"epoch": self.state.epoch + 1}
            row.update({k: v / max(1, seen) for k, v in sums.items()})
            row.update(
                {
                    "lr": float(self.scheduler.get_last_lr()[0]),
                    "images_per_s": seen / max(seconds, 1e-9),
                    "seconds": seconds,
                }
            )
            if self._should_validate(self.state.epoch):
                report = validate(self.model, self.data)
                row.update(report)
                self._keep_if_best(report.get("val_map@100", math.nan))
            self.state.history.append(row)
            self.state.epoch += 1
            for cb in self.callbacks:
                cb.on_epoch_end(self, row)
        if self.state.best_state is not None:
            self.model.load_state_dict(self.state.best_state)
        self.model.eval()
        return self.state

    def state_dict(self) -> dict[str, Any]:
        """Everything ``load_state_dict`` needs to continue exactly where training stopped."""
        return {
            "model": self.model.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "numpy_state": _numpy_state_out(),
            "state": {**self.state.__dict__, "history": [_plain_row(r) for r in self.state.history]},
        }

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        """Restore from ``state_dict`` output."""
        self.model.load_state_dict(checkpoint["model"])
        if "loss" in checkpoint:  # absent in checkpoints written before losses kept state
            self.loss.load_state_dict(checkpoint["loss"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.generator.set_state(checkpoint["generator"])
        _numpy_state_in(checkpoint["numpy_state"])
        self.state = TrainState(**checkpoint["state"])


# A checkpoint holds tensors and plain Python values only, so that resuming can load it with
# ``torch.load(weights_only=True)``, which never runs code from the file.
def _numpy_state_out() -> dict[str, Any]:
    """NumPy's global generator state as plain values and a tensor."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"name": str(name), "keys": torch.from_numpy(np.asarray(keys, np.int64)), "pos": int(pos),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def _numpy_state_in(state: dict[str, Any]) -> None:
    keys = state["keys"].numpy().astype(np.uint32)
    np.random.set_state((state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"]))


def _plain_row(row: EpochRow) -> EpochRow:
    """A metrics row with NumPy scalars turned into Python numbers."""
    return {k: v.item() if isinstance(v, np.generic) else v for k, v in row.items()}
