"""One trial of a sweep, as Ray Tune runs it in a worker process: train one (timesteps, units,
seed) with the sweep's `TrainConfig`, convert to TFLite and score the converted model closed
loop on the selection seed (`run_trial`).

What every trial measures is fixed here, for the trials and for the driver that reads them:
Tune's metric `OBJECTIVE` and the evaluations' parallel `ARENAS`. Ray and TensorFlow are only
imported inside the trial, after `limit_threads`.
"""

from __future__ import annotations

import math
import time
import traceback
from pathlib import Path
from typing import Any

from dodge_lstm.learning.ray_cluster import limit_threads
from dodge_lstm.learning.sweep_report import trial_name
from dodge_lstm.learning.train_config import TrainConfig

ARENAS = 64
"""Parallel arenas per closed-loop evaluation: fixed so every pair (and baseline) is comparable."""

OBJECTIVE = "threat_dodge_rate"
"""Tune's metric: the closed-loop threat dodge rate on the selection seed (maximised)."""


def run_trial(config: dict[str, Any], job: dict[str, Any]) -> None:
    """One Ray Tune trial: train, convert, score on the selection seed, report once.

    Any exception becomes the trial's `error` (with the stage) and a NaN objective, and the
    traceback goes to the trial's stderr file; a worker that dies outright is Ray's trial error.
    The model files go back to Tune as the trial's checkpoint, which Tune stores under the
    sweep's `out` (or wherever its storage is), reachable from the driver.
    """
    limit_threads(int(job["cpus_per_trial"]))
    import socket
    import tempfile

    from ray import tune

    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.core.json_io import write_json
    from dodge_lstm.runtime.learned_policy import LearnedPolicy

    t0 = time.perf_counter()
    t, u, seed = int(config["timesteps"]), int(config["units"]), int(config["seed"])
    metrics: dict[str, Any] = {OBJECTIVE: math.nan, "error": None, "node": socket.gethostname(),
                               "threads": int(job["cpus_per_trial"])}
    history: dict[str, list[float]] | None = None
    with tempfile.TemporaryDirectory(prefix="dodge_trial_") as tmp:
        work = Path(tmp)
        stage = "train"
        try:
            from dodge_lstm.learning.training import build_model, train_dataset

            build_model(1, 1)  # import Keras now, so train_seconds times training, not imports
            cfg = TrainConfig(**job["config"]).with_(timesteps=t, units=u, seed=seed)
            res = train_dataset(job["data"], cfg, out_dir=work, progress=False)
            history = res.history
            metrics.update(
                loss=res.train_loss, train_loss=res.train_loss, eval_loss=res.eval_loss,
                history_min_loss=min(res.history["loss"]),
                history_min_val_loss=min(res.history.get("val_loss", []), default=None),
                best_epoch=res.best_epoch, epochs=res.epochs_run, train_seconds=res.seconds,
            )
            stage = "convert"
            from dodge_lstm.learning.conversion import check_windows_for, convert

            tflite = work / "model.tflite"
            rep = convert(work, tflite, check_windows=check_windows_for(work, Path(job["data"])))
            metrics.update(convert_seconds=rep.seconds, convert_max_abs_err=rep.max_abs_err)
            stage = "evaluate"
            ev = evaluate_scenario(LearnedPolicy(tflite), job["scenario"], job["eval_balls"],
                                   seed=job["selection_seed"], arenas=ARENAS,
                                   sensing=job.get("sensing"), tracker=job.get("tracker"))
            lo, hi = ev.threat_dodge_ci95
            metrics.update({
                OBJECTIVE: ev.threat_dodge_rate, "threat_dodge_ci95_low": lo,
                "threat_dodge_ci95_high": hi, "dodge_rate": ev.dodge_rate, "balls": ev.balls,
                "hits": ev.hits, "threat_balls": ev.threat_balls,
                "threat_hits": ev.threat_hits, "selection_eval_seconds": ev.wall_seconds,
            })
        except Exception as exc:
            metrics["error"] = f"{stage}: {type(exc).__name__}: {exc}"
            traceback.print_exc()  # into the trial's stderr file
        metrics["seconds"] = time.perf_counter() - t0
        write_json(work / "trial.json", {"config": config, "metrics": metrics,
                                         "history": history})
        # Reported with a checkpoint even on failure: what was written is kept for post-mortems.
        tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(str(work)))


def trial_dirname(trial: Any) -> str:
    """Tune trial folder and display name, e.g. `t5_u15_s0`."""
    c = trial.config
    return trial_name(c["timesteps"], c["units"], c["seed"])
