"""Sweep pictures: loss curves per timesteps value and the threat dodge rate heat map.

Both read the sweep's pair rows (`timesteps`, `units`, `history`, `threat_dodge_rate`,
`threat_dodge_ci95`: the kept seed's model on the reported seed) and draw on Agg figures, so
any process, Ray driver or test, can call them.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.viz.figure import agg_figure

__all__ = ["plot_heatmap", "plot_loss_curves"]

Row = Mapping[str, Any]


def plot_loss_curves(
    path: str | Path, rows: Sequence[Row], timesteps: Sequence[int], units: Sequence[int]
) -> Path:
    """One subplot per timesteps value; a colour per units value, train solid, eval dashed."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    ts, us = list(timesteps), list(units)
    ncols = min(len(ts), 3)
    nrows = math.ceil(len(ts) / ncols)
    spare = nrows * ncols > len(ts)
    fig = agg_figure(4.6 * ncols, 3.6 * nrows)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    colours = {u: f"C{i % 10}" for i, u in enumerate(us)}
    by_pair = {(r["timesteps"], r["units"]): r for r in rows}
    for ax, t in zip(axes, ts):
        plotted = 0
        for u in us:
            hist = (by_pair.get((t, u)) or {}).get("history")
            if not hist:
                continue
            plotted += 1
            epochs = np.arange(1, len(hist["loss"]) + 1)
            ax.plot(epochs, hist["loss"], color=colours[u], lw=1.2)
            if hist.get("val_loss"):
                ax.plot(epochs, hist["val_loss"], color=colours[u], lw=1.2, ls="--")
        if not plotted:
            ax.text(0.5, 0.5, "no trained model", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{t} timesteps")
        ax.set_xlabel("epoch")
        ax.grid(True, which="both", alpha=0.3)
    for ax in axes[::ncols]:
        ax.set_ylabel("MSE loss [(m/s)²]")
    handles = [Line2D([], [], color=colours[u], label=f"{u} units") for u in us] + [
        Line2D([], [], color="k", label="train"),
        Line2D([], [], color="k", ls="--", label="eval"),
    ]
    for ax in axes[len(ts):]:
        ax.axis("off")
    if spare:
        axes[-1].legend(handles=handles, loc="center", frameon=False)
    else:
        axes[0].legend(handles=handles, fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)


def plot_heatmap(
    path: str | Path,
    rows: Sequence[Row],
    timesteps: Sequence[int],
    units: Sequence[int],
    baselines: Mapping[str, Mapping[str, Any]],
    note: str | None = None,
) -> Path:
    """Timesteps × units grid of the closed-loop threat dodge rate, each cell annotated.

    `note` (e.g. how many seeds each cell's model was picked from) goes under the title.
    """
    import matplotlib as mpl

    ts, us = list(timesteps), list(units)
    rate = np.full((len(ts), len(us)), np.nan)
    half = np.full_like(rate, np.nan)
    for r in rows:
        if r.get("threat_dodge_rate") is not None:
            i, j = ts.index(r["timesteps"]), us.index(r["units"])
            rate[i, j] = 100 * r["threat_dodge_rate"]
            lo, hi = r["threat_dodge_ci95"]
            half[i, j] = 100 * (hi - lo) / 2
    width = 1.3 * len(us) + 2.6
    if note:  # wrapped to the figure (~11 characters per inch at the title's size)
        note = textwrap.fill(note, max(24, int(11 * width)))
    fig = agg_figure(width, 0.9 * len(ts) + 1.8 + 0.2 * (note or "").count("\n")
                     + (0.2 if note else 0.0))
    ax = fig.add_subplot()
    cmap = mpl.colormaps["viridis"].with_extremes(bad="lightgrey")
    finite = rate[np.isfinite(rate)]
    vmin, vmax = (finite.min(), finite.max()) if finite.size else (0.0, 100.0)
    if vmax - vmin < 1.0:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    im = ax.imshow(np.ma.masked_invalid(rate), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    for i in range(len(ts)):
        for j in range(len(us)):
            if np.isfinite(rate[i, j]):
                dark = (rate[i, j] - vmin) / (vmax - vmin) < 0.6
                ax.text(j, i, f"{rate[i, j]:.1f}%\n±{half[i, j]:.1f}", ha="center",
                        va="center", fontsize=8, color="white" if dark else "black")
            else:
                ax.text(j, i, "error", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(us)), [str(u) for u in us])
    ax.set_yticks(range(len(ts)), [str(t) for t in ts])
    ax.set_xlabel("LSTM units")
    ax.set_ylabel("timesteps")
    title = "Closed-loop threat dodge rate"
    if note:
        title += f"\n{note}"
    if baselines:
        title += "\n" + ", ".join(
            f"{k} {100 * b['threat_dodge_rate']:.1f}%" for k, b in baselines.items()
            if "error" not in b
        )
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="threat dodge rate [%]")
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
