"""The DAgger figure: threat dodge rate after each round against minutes of demonstrations,
arena DAgger and ROS DAgger side by side, with the expert as the ceiling."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dodge_lstm.viz.figure import agg_figure

__all__ = ["plot_dagger_curves"]


def plot_dagger_curves(path: str | Path, rounds: Sequence[Mapping[str, Any]],
                       expert_rate: float) -> Path:
    """`rounds` as `ros_dagger.json` stores them (loop, minutes, threat rate and its CI)."""
    fig = agg_figure(6, 4)
    ax = fig.add_subplot()
    for loop, style in (("ros", "o-"), ("arena", "s--")):
        pts = sorted((r for r in rounds if r["loop"] == loop), key=lambda r: r["minutes"])
        if not pts:
            continue
        x = [r["minutes"] for r in pts]
        y = [100 * r["threat_dodge_rate"] for r in pts]
        lo = [100 * (r["threat_dodge_rate"] - r["threat_dodge_ci95"][0]) for r in pts]
        hi = [100 * (r["threat_dodge_ci95"][1] - r["threat_dodge_rate"]) for r in pts]
        ax.errorbar(x, y, yerr=[lo, hi], fmt=style, capsize=3,
                    label=f"{loop} DAgger" if loop == "arena" else "ROS DAgger (graph, bags)")
    ax.axhline(100 * expert_rate, color="grey", linestyle=":", label="expert")
    ax.axhline(95 * expert_rate, color="grey", linestyle="-.", alpha=0.5,
               label="95 % of the expert")
    ax.set_xlabel("simulated minutes of demonstrations in the dataset")
    ax.set_ylabel("threat dodge rate [%] (seed 7, 95 % CI)")
    ax.legend(loc="lower right")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    return Path(path)
