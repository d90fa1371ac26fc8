"""What a sweep writes: results.csv, trials.csv, results.md, sweep.json and the plots.

Kept apart from the orchestration in `sweep` so the tables can be rebuilt or tested from rows
alone. A trial row is one (timesteps, units, seed) Ray trial, scored on the selection seed
(`TRIAL_FIELDS`, `selection_threat_dodge_ci95`, `history`); a pair row is the trial of the
pair's best seed plus its evaluation on the reported seed (`CSV_FIELDS`, `threat_dodge_ci95`,
`selection_threat_dodge_ci95`, `seeds`, `history`). `error` is set when a pair failed.
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
    "TRIAL_FIELDS",
    "csv_text",
    "markdown",
    "pair_name",
    "spearman",
    "summary",
    "trial_name",
    "trials_csv_text",
    "write_outputs",
]

SWEEP_FORMAT = "dodge_lstm.learning.sweep/2"
"""/2: Ray Tune trials over seeds; rows are each pair's best seed, `trials` every trial."""

TRIAL_FIELDS = [
    "timesteps", "units", "seed", "parameters", "selection_threat_dodge_rate",
    "selection_threat_dodge_ci95_low", "selection_threat_dodge_ci95_high", "train_loss",
    "eval_loss", "history_min_loss", "history_min_val_loss", "best_epoch", "epochs_run",
    "train_seconds", "convert_seconds", "convert_max_abs_err", "selection_eval_seconds",
    "trial_seconds", "node", "threads", "tflite", "error",
]

CSV_FIELDS = [
    "timesteps", "units", "parameters", "seed", "seeds", "seeds_failed",
    "selection_threat_dodge_rate", "selection_threat_dodge_ci95_low",
    "selection_threat_dodge_ci95_high", "selection_min", "selection_max", "train_loss",
    "eval_loss", "history_min_loss", "history_min_val_loss", "best_epoch", "epochs_run",
    "train_seconds", "convert_seconds", "convert_max_abs_err", "eval_seconds",
    "threat_dodge_rate", "threat_dodge_ci95_low", "threat_dodge_ci95_high", "dodge_rate",
    "hits", "balls", "threat_balls", "threat_hits", "arenas", "tflite", "export", "error",
]

Row = dict[str, Any]


def pair_name(timesteps: int, units: int) -> str:
    """Name of one (timesteps, units) pair in tables and summaries."""
    return f"t{timesteps}_u{units}"


def trial_name(timesteps: int, units: int, seed: int) -> str:
    """Folder (and Ray trial) name of one trial."""
    return f"t{timesteps}_u{units}_s{seed}"


def write_outputs(
    out: Path,
    rows: list[Row],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    *,
    complete: bool,
    trials: list[Row] | None = None,
) -> None:
    """(Re)write the tables and JSON atomically; draw the plots once the sweep is complete.

    While Ray still runs trials, `rows` is empty and `trials` holds those that ended.
    """
    s = summary(rows)
    trials = trials or []
    write_text_atomic(out / "results.csv", csv_text(rows))
    write_text_atomic(out / "trials.csv", trials_csv_text(trials))
    write_text_atomic(out / "results.md", markdown(rows, settings, baselines, s))
    doc = {
        "format": SWEEP_FORMAT, "complete": complete, "settings": settings,
        "baselines": baselines, "summary": s, "rows": rows,
        "trials": [{k: v for k, v in t.items() if k != "history"} for t in trials],
    }
    write_json(out / "sweep.json", doc, indent=1)
    if complete:
        from dodge_lstm.viz.sweep_plots import plot_heatmap, plot_loss_curves

        ts, us = settings["timesteps"], settings["units"]
        plot_loss_curves(out / "loss_curves.png", rows, ts, us)
        plot_heatmap(out / "dodge_heatmap.png", rows, ts, us, baselines,
                     note=_heatmap_note(settings))


def _split_cis(row: Row) -> Row:
    """A row with each `*_ci95` pair as `*_ci95_low`/`_high` and seed lists as `0 1 2`."""
    flat = dict(row)
    for key in ("threat_dodge_ci95", "selection_threat_dodge_ci95"):
        ci = row.get(key) or [None, None]
        flat[f"{key}_low"], flat[f"{key}_high"] = ci[0], ci[1]
    for key in ("seeds", "seeds_failed"):
        if isinstance(row.get(key), list):
            flat[key] = " ".join(str(v) for v in row[key])
    return flat


def _csv(rows: list[Row], names: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=names, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow(_split_cis(row))
    return buf.getvalue()


def csv_text(rows: list[Row]) -> str:
    """The pair rows as CSV (`CSV_FIELDS`, CIs split into low/high columns)."""
    return _csv(rows, CSV_FIELDS)


def trials_csv_text(trials: list[Row]) -> str:
    """Every trial as CSV (`TRIAL_FIELDS`): how much the selection score moves with the seed."""
    return _csv(trials, TRIAL_FIELDS)


def _heatmap_note(settings: dict[str, Any]) -> str:
    seeds = settings.get("seed")
    n = len(seeds) if isinstance(seeds, list) else 1
    return (f"best of {n} seed{'s' if n > 1 else ''} on seed {settings.get('selection_seed')}, "
            f"scored on seed {settings.get('eval_seed')}")


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
    by_selection = max(ok, key=lambda r: r["selection_threat_dodge_rate"])
    lo_best = by_dodge["threat_dodge_ci95"][0]
    return {
        "models": len(ok),
        "errors": len(rows) - len(_ok(rows)),
        "best_eval_loss": pair_name(by_loss["timesteps"], by_loss["units"]),
        "best_threat_dodge": pair_name(by_dodge["timesteps"], by_dodge["units"]),
        "best_selection": pair_name(by_selection["timesteps"], by_selection["units"]),
        # Pairs whose CI overlaps the best one's: not distinguishable from it at this eval size.
        "within_ci_of_best_dodge": [
            pair_name(r["timesteps"], r["units"]) for r in ok
            if r["threat_dodge_ci95"][1] >= lo_best
        ],
        "spearman_eval_loss_vs_threat_dodge": spearman(
            [r["eval_loss"] for r in ok], [r["threat_dodge_rate"] for r in ok]
        ),
        # Does the ranking on the selection seed carry over to fresh balls?
        "spearman_selection_vs_reported": spearman(
            [r["selection_threat_dodge_rate"] for r in ok], [r["threat_dodge_rate"] for r in ok]
        ),
    }


def _loss(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def _pct_ci(rate: float, ci: Sequence[float]) -> str:
    return f"{rate:.1%} ({ci[0]:.1%}–{ci[1]:.1%})"


def _seeds(v: Any) -> str:
    return ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)


def markdown(
    rows: list[Row],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    stats: dict[str, Any],
) -> str:
    """results.md: settings in prose, one table row per pair, the rankings compared."""
    s = settings
    seeds = s["seed"] if isinstance(s["seed"], list) else [s["seed"]]
    lines = [
        "# Sweep: LSTM timesteps × units",
        "",
        f"Data `{Path(s['data']).name}` ({s['data_rows']} rows, sha256 `{s['data_sha256'][:12]}`"
        f"), Adam/MSE, up to {s['epochs']} epochs with early stopping (patience "
        f"{s['patience']}) on a {s['eval_fraction']:.0%} eval split of "
        f"{s.get('segment_seconds', 30.0):g} s segments (mirror twins together), seeds "
        f"{_seeds(seeds)}. Losses are MSE in (m/s)² of the restored best weights.",
        "",
        f"Every (timesteps, units, seed) is a Ray Tune trial whose objective is the closed-loop "
        f"threat dodge rate of its converted `.tflite` in `evaluate(..., {s['eval_balls']} "
        f"balls, seed={s['selection_seed']}, arenas={s['arenas']})` on the "
        f"`{s.get('scenario', 'default')}` scenario (*selection*). Each pair "
        f"keeps its best seed by that score, and only that model is evaluated on the reported "
        f"seed {s['eval_seed']} (*threat dodge*, same size). *Threat dodge* = share of the "
        f"balls that would hit a robot standing still that the policy avoided (Wilson 95% CI); "
        f"*dodge* = share of all balls not hitting.",
        "",
    ]
    if baselines:
        ref = ", ".join(
            f"{name} {_pct_ci(b['threat_dodge_rate'], b['threat_dodge_ci95'])} "
            f"({b['threat_balls']} threats)"
            for name, b in baselines.items() if "error" not in b
        )
        lines += [f"Baselines on the reported seed: {ref}.", ""]
    any_error = any(r["error"] for r in rows)
    head = ["timesteps", "units", "params", "seed", "selection (95% CI)", "selection over seeds",
            "train loss", "eval loss", "epochs", "train s", "threat dodge (95% CI)", "dodge",
            "hits / balls"] + (["error"] if any_error else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for r in rows:
        cells = [str(r["timesteps"]), str(r["units"]), str(r["parameters"])]
        tried = r.get("seeds") or []
        if r.get("selection_threat_dodge_rate") is not None:
            cells += [
                f"{r['seed']} of {len(tried)}",
                _pct_ci(r["selection_threat_dodge_rate"], r["selection_threat_dodge_ci95"]),
                f"{r['selection_min']:.1%}–{r['selection_max']:.1%}",
                _loss(r["train_loss"]), _loss(r["eval_loss"]),
                str(r["epochs_run"]), f"{r['train_seconds']:.0f}",
            ]
        else:
            cells += ["—"] * 7
        if r["threat_dodge_rate"] is not None:
            cells += [_pct_ci(r["threat_dodge_rate"], r["threat_dodge_ci95"]),
                      f"{r['dodge_rate']:.1%}", f"{r['hits']} / {r['balls']}"]
        else:
            cells += ["—"] * 3
        if any_error:
            cells.append(str(r["error"] or "").replace("|", "\\|").replace("\n", " ")[:200])
        lines.append("| " + " | ".join(cells) + " |")
    if stats.get("models"):
        rho = stats["spearman_eval_loss_vs_threat_dodge"]
        rho_sel = stats["spearman_selection_vs_reported"]
        lines += [
            "",
            f"Lowest eval loss: {stats['best_eval_loss']}. Highest threat dodge rate: "
            f"{stats['best_threat_dodge']}; pairs whose CI overlaps it: "
            f"{', '.join(stats['within_ci_of_best_dodge'])}. Highest selection score: "
            f"{stats['best_selection']}.",
            "",
            "Spearman rank correlation of eval loss and threat dodge rate over "
            f"{stats['models']} models: "
            + (f"{rho:+.2f}" if rho is not None else "n/a")
            + " (−1: lower loss always dodges better; 0: loss says nothing about dodging); "
            "of the selection and the reported rates: "
            + (f"{rho_sel:+.2f}" if rho_sel is not None else "n/a") + ".",
        ]
    where = (f"on the Ray cluster at `{s['ray_address']}`" if s.get("ray_address")
             else "on a local Ray instance")
    lines += ["", f"Sweep wall time {s.get('wall_seconds', 0.0) / 60:.1f} min, "
              f"{s.get('trials', len(rows))} trials {where} (Ray {s.get('ray_version', '?')}, "
              f"{s.get('cluster_cpus', 0):g} CPUs on {s.get('nodes', 1)} node(s), "
              f"{s.get('cpus_per_trial', 1)} CPU(s) and TF threads per trial)."]
    return "\n".join(lines) + "\n"
