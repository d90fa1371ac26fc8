"""The `loss.png` of a training run: train and eval loss per epoch, best epoch marked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dodge_lstm.viz.figure import agg_figure

__all__ = ["plot_loss_history"]


def plot_loss_history(
    path: str | Path, history: Mapping[str, list[float]], best_epoch: int
) -> Path:
    """Plot Keras `history` (`loss`, optional `val_loss`) on a log scale into `path`."""
    fig = agg_figure(6, 4)
    ax = fig.add_subplot()
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, history["loss"], label="train")
    if history.get("val_loss"):
        ax.plot(epochs, history["val_loss"], label="eval")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best (epoch {best_epoch})")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE loss [(m/s)^2]")
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
