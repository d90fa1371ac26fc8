"""What a sweep writes: results.csv, results.md, sweep.json and (when done) the plots.

Kept apart from the orchestration in `sweep` so the tables can be rebuilt or tested from rows
alone. A row is a flat dict per (timesteps, units) pair with the `CSV_FIELDS` plus
`threat_dodge_ci95`, `history` and `pair_seconds`; `error` is set when the pair failed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.core.json_io import write_json, write_text_atomic

__all__ = [
    "CSV_FIELDS",
    "SWEEP_FORMAT",
    "csv_text",
    "markdown",
    "pair_name",
    "spearman",
    "summary",
    "write_outputs",
]

SWEEP_FORMAT = "dodge_lstm.learning.sweep/1"

CSV_FIELDS = [
    "timesteps", "units", "parameters", "train_loss", "eval_loss", "history_min_loss",
    "history_min_val_loss", "best_epoch", "epochs_run", "train_seconds", "convert_seconds",
    "convert_max_abs_err", "eval_seconds", "threat_dodge_rate", "threat_dodge_ci95_low",
    "threat_dodge_ci95_high", "dodge_rate", "hits", "balls", "threat_balls", "threat_hits",
    "arenas", "tflite", "error",
]

Row = dict[str, Any]


def pair_name(timesteps: int, units: int) -> str:
    """Directory name of one pair's outputs."""
    return f"t{timesteps}_u{units}"


def write_outputs(
    out: Path,
    rows: list[Row],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    *,
    complete: bool,
) -> None:
    """(Re)write the tables and JSON atomically; draw the plots once the sweep is complete."""
    s = summary(rows)
    write_text_atomic(out / "results.csv", csv_text(rows))
    write_text_atomic(out / "results.md", markdown(rows, settings, baselines, s))
    doc = {
        "format": SWEEP_FORMAT, "complete": complete, "settings": settings,
        "baselines": baselines, "summary": s, "rows": rows,
    }
    write_json(out / "sweep.json", doc, indent=1)
    if complete:
        from dodge_lstm.viz.sweep_plots import plot_heatmap, plot_loss_curves

        ts, us = settings["timesteps"], settings["units"]
        plot_loss_curves(out / "loss_curves.png", rows, ts, us)
        plot_heatmap(out / "dodge_heatmap.png", rows, ts, us, baselines)


def csv_text(rows: list[Row]) -> str:
    """The rows as CSV (`CSV_FIELDS`, the CI split into low/high columns)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        ci = row.get("threat_dodge_ci95") or [None, None]
        w.writerow(row | {"threat_dodge_ci95_low": ci[0], "threat_dodge_ci95_high": ci[1]})
    return buf.getvalue()


def _ok(rows: list[Row]) -> list[Row]:
    return [r for r in rows if not r["error"]]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (for Spearman)."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    for v in np.unique(x):
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Spearman rank correlation; None below 3 points or when a ranking is constant."""
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    if len(a_arr) < 3:
        return None
    ra, rb = _ranks(a_arr), _ranks(b_arr)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def summary(rows: list[Row]) -> dict[str, Any]:
    """Best pairs by loss and by dodging, and how well the two rankings agree."""
    ok = [r for r in _ok(rows) if r["eval_loss"] is not None]
    if not ok:
        return {"models": 0, "errors": len(rows)}
    by_loss = min(ok, key=lambda r: r["eval_loss"])
    by_dodge = max(ok, key=lambda r: r["threat_dodge_rate"])
    lo_best = by_dodge["threat_dodge_ci95"][0]
    return {
        "models": len(ok),
        "errors": len(rows) - len(_ok(rows)),
        "best_eval_loss": pair_name(by_loss["timesteps"], by_loss["units"]),
        "best_threat_dodge": pair_name(by_dodge["timesteps"], by_dodge["units"]),
        # Pairs whose CI overlaps the best one's: not distinguishable from it at this eval size.
        "within_ci_of_best_dodge": [
            pair_name(r["timesteps"], r["units"]) for r in ok
            if r["threat_dodge_ci95"][1] >= lo_best
        ],
        "spearman_eval_loss_vs_threat_dodge": spearman(
            [r["eval_loss"] for r in ok], [r["threat_dodge_rate"] for r in ok]
        ),
    }


def _loss(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def _pct_ci(rate: float, ci: Sequence[float]) -> str:
    return f"{rate:.1%} ({ci[0]:.1%}–{ci[1]:.1%})"


def markdown(
    rows: list[Row],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    stats: dict[str, Any],
) -> str:
    """results.md: settings in prose, one table row per pair, the two rankings compared."""
    s = settings
    lines = [
        "# Sweep: LSTM timesteps × units",
        "",
        f"Data `{Path(s['data']).name}` ({s['data_rows']} rows, sha256 `{s['data_sha256'][:12]}`"
        f"), Adam/MSE, up to {s['epochs']} epochs with early stopping (patience "
        f"{s['patience']}) on a {s['eval_fraction']:.0%} by-episode eval split, seed {s['seed']}."
        f" Losses are MSE in (m/s)² of the restored best weights.",
        "",
        f"Closed loop: the converted `.tflite` in `evaluate(..., {s['eval_balls']} balls, "
        f"seed={s['eval_seed']}, arenas={s['arenas']})`. *Threat dodge* = share of the balls "
        f"that would hit a robot standing still that the policy avoided (Wilson 95% CI); "
        f"*dodge* = share of all balls not hitting.",
        "",
    ]
    if baselines:
        ref = ", ".join(
            f"{name} {_pct_ci(b['threat_dodge_rate'], b['threat_dodge_ci95'])} "
            f"({b['threat_balls']} threats)"
            for name, b in baselines.items() if "error" not in b
        )
        lines += [f"Baselines, same settings: {ref}.", ""]
    any_error = any(r["error"] for r in rows)
    head = ["timesteps", "units", "params", "train loss", "eval loss", "epochs", "train s",
            "threat dodge (95% CI)", "dodge", "hits / balls"] + (["error"] if any_error else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r["timesteps"]), str(r["units"]), str(r["parameters"])]
        if r["threat_dodge_rate"] is not None:
            cells += [
                _loss(r["train_loss"]), _loss(r["eval_loss"]),
                str(r["epochs_run"]), f"{r['train_seconds']:.0f}",
                _pct_ci(r["threat_dodge_rate"], r["threat_dodge_ci95"]),
                f"{r['dodge_rate']:.1%}", f"{r['hits']} / {r['balls']}",
            ]
        elif r["train_loss"] is not None:  # trained, then conversion/evaluation failed
            cells += [_loss(r["train_loss"]), _loss(r["eval_loss"]),
                      str(r["epochs_run"]), f"{r['train_seconds']:.0f}", "—", "—", "—"]
        else:
            cells += ["—"] * 7
        if any_error:
            cells.append(str(r["error"] or "").replace("|", "\\|").replace("\n", " ")[:200])
        lines.append("| " + " | ".join(cells) + " |")
    if stats.get("models"):
        rho = stats["spearman_eval_loss_vs_threat_dodge"]
        lines += [
            "",
            f"Lowest eval loss: {stats['best_eval_loss']}. Highest threat dodge rate: "
            f"{stats['best_threat_dodge']}; pairs whose CI overlaps it: "
            f"{', '.join(stats['within_ci_of_best_dodge'])}.",
            "",
            "Spearman rank correlation of eval loss and threat dodge rate over "
            f"{stats['models']} models: "
            + (f"{rho:+.2f}" if rho is not None else "n/a")
            + " (−1: lower loss always dodges better; 0: loss says nothing about dodging).",
        ]
    lines += ["", f"Sweep wall time {s.get('wall_seconds', 0.0) / 60:.1f} min with "
              f"{s['workers']} workers × 1 thread."]
    return "\n".join(lines) + "\n"
