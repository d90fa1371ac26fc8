"""From a sweep's trial results to the models it keeps: each trial as a row of `sweep.json`'s
`trials` (`trial_row`), and each (timesteps, units) pair's best seed by its selection score
(`best_seeds`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dodge_lstm.learning.sweep_trial import OBJECTIVE


def lstm_parameters(timesteps: int, units: int, num_features: int) -> int:
    """Trainable parameters of LSTM(units) + Dense(1); independent of `timesteps`."""
    del timesteps  # the LSTM shares its weights over time
    return 4 * units * (num_features + units + 1) + units + 1


def finite(v: Any) -> Any:
    """NaN (Tune's objective of a failed trial) as None, so the JSON stays strict."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


TRIAL_METRICS = (
    "train_loss", "eval_loss", "history_min_loss", "history_min_val_loss", "best_epoch",
    "train_seconds", "convert_seconds", "convert_max_abs_err", "dodge_rate", "balls", "hits",
    "threat_balls", "threat_hits", "selection_eval_seconds", "node", "threads",
)


def trial_row(
    config: dict[str, Any],
    metrics: dict[str, Any],
    *,
    checkpoint: str | None,
    trial_dir: str | None,
    error: str | None,
    num_features: int,
) -> dict[str, Any]:
    """One trial as a flat row of `sweep.json`'s `trials` (history read from its checkpoint)."""
    import json

    t, u, s = int(config["timesteps"]), int(config["units"]), int(config["seed"])
    row: dict[str, Any] = {
        "timesteps": t, "units": u, "seed": s, "parameters": lstm_parameters(t, u, num_features),
        "selection_threat_dodge_rate": finite(metrics.get(OBJECTIVE)),
        "selection_threat_dodge_ci95": None, "epochs_run": metrics.get("epochs"),
        "trial_seconds": metrics.get("seconds"),
    }
    row.update({k: finite(metrics.get(k)) for k in TRIAL_METRICS})
    if metrics.get("threat_dodge_ci95_low") is not None:
        row["selection_threat_dodge_ci95"] = [metrics["threat_dodge_ci95_low"],
                                              metrics["threat_dodge_ci95_high"]]
    row["history"] = None
    if checkpoint is not None and (Path(checkpoint) / "trial.json").is_file():
        row["history"] = json.loads((Path(checkpoint) / "trial.json").read_text())["history"]
    row.update(
        checkpoint=checkpoint, trial_dir=trial_dir,
        tflite=str(Path(checkpoint) / "model.tflite") if checkpoint else None,
        error=metrics.get("error") or error,
    )
    if row["error"] is None and row["selection_threat_dodge_rate"] is None:
        row["error"] = "trial reported no objective"
    return row


def best_seeds(trials: list[dict[str, Any]], timesteps: Sequence[int],
               units: Sequence[int]) -> list[dict[str, Any]]:
    """One row per (timesteps, units): its best seed by selection score (ties: lower seed).

    The row is that trial's, plus `seeds` (all tried), `seeds_failed` and the selection
    scores' range over the pair's seeds. A pair whose seeds all failed keeps their errors.
    """
    rows = []
    for t in timesteps:
        for u in units:
            mine = sorted((r for r in trials if (r["timesteps"], r["units"]) == (t, u)),
                          key=lambda r: r["seed"])
            ok = [r for r in mine if r["error"] is None]
            failed = [r["seed"] for r in mine if r["error"] is not None]
            if ok:
                best = max(ok, key=lambda r: (r["selection_threat_dodge_rate"], -r["seed"]))
                scores = [r["selection_threat_dodge_rate"] for r in ok]
                row = dict(best) | {"selection_min": min(scores), "selection_max": max(scores),
                                    "error": None}
            else:
                base = mine[0] if mine else {"timesteps": t, "units": u, "seed": None,
                                             "parameters": None, "history": None}
                row = dict(base) | {"selection_min": None, "selection_max": None,
                                    "error": "; ".join(f"seed {r['seed']}: {r['error']}"
                                                       for r in mine) or "no trial ran"}
            row |= {"seeds": [r["seed"] for r in mine], "seeds_failed": failed}
            rows.append(row)
    return rows
