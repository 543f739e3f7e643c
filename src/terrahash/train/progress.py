"""A Rich progress bar as a trainer hook: loss and throughput live, one line per run."""

from __future__ import annotations

import math
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from terrahash.train.trainer import Callback, EpochRow, Trainer


class RichProgress(Callback):
    """Shows steps done, the current loss and images/s; prints each validated epoch."""

    def __init__(self, description: str, total: int, console: Console | None = None) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f}"),
            TextColumn("{task.fields[speed]:.0f} img/s"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self.task = self.progress.add_task(description, total=total, loss=float("nan"), speed=0.0)
        self.images = 0
        self.started = time.perf_counter()

    def on_fit_start(self, trainer: Trainer) -> None:
        """Start drawing (skipping steps already done when resuming)."""
        self.progress.start()
        self.progress.update(self.task, completed=trainer.state.step)

    def on_step_end(self, trainer: Trainer, n_images: int, logs: dict[str, float]) -> None:
        """Advance one step."""
        self.images += n_images
        speed = self.images / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, advance=1, loss=logs["loss"], speed=speed)

    def on_epoch_end(self, trainer: Trainer, row: EpochRow) -> None:
        """Log validated epochs; stop drawing after the last one."""
        if "val_map@100" in row:
            score = row["val_map@100"]
            shown = "n/a (no validation query has a relevant item)" if math.isnan(score) else f"{score:.3f}"
            self.progress.console.print(
                f"epoch {row['epoch']}: loss {row['loss']:.3f}, val mAP@100 {shown}", highlight=False
            )
        if trainer.state.epoch >= trainer.epochs:
            self.progress.stop()
