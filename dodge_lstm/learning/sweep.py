"""Sweep a grid of (timesteps, units) × seeds on Ray Tune, scored by closed-loop dodging.

The 2020 project picked 5-8 timesteps and ~15 units from loss curves alone. Here every trial
trains, converts to TFLite (the deployed path) and is scored by its closed-loop threat dodge
rate on a *selection* seed: that rate, not the loss, is Tune's objective. One seed can get
lucky, so each pair trains under several seeds; the seed with the best selection score is kept
and only that model is evaluated once on the *reported* seed, which no choice ever saw (as in
DAgger). Ray schedules the trials (`cpus_per_trial` CPUs each, TF held to as many threads), on
this machine or on a cluster (`ray_cluster.ray_session`), so the sweep code is the same for
both. Ray and TensorFlow are only imported inside functions; the tables and JSON are
`sweep_report`'s, the plots `viz.sweep_plots`'.
"""

from __future__ import annotations

import math
import os
import shutil
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from dodge_lstm.core.evaluation import REPORTED_SEED, SELECTION_SEED
from dodge_lstm.core.scenarios import SCENARIOS, Scenario
from dodge_lstm.learning.ray_cluster import limit_threads
from dodge_lstm.learning.sweep_report import (
    SWEEP_FORMAT,
    pair_name,
    summary,
    trial_name,
    write_outputs,
)
from dodge_lstm.learning.train_config import TrainConfig

__all__ = [
    "ARENAS",
    "EXPERIMENT",
    "SELECTION_SEED",
    "SWEEP_FORMAT",
    "best_seeds",
    "lstm_parameters",
    "pair_name",
    "run_sweep",
    "trial_name",
]

ARENAS = 64
"""Parallel arenas per closed-loop evaluation: fixed so every pair (and baseline) is comparable."""


EXPERIMENT = "trials"
"""Ray Tune experiment folder under the sweep's `out`: one sub-folder per trial."""

OBJECTIVE = "threat_dodge_rate"
"""Tune's metric: the closed-loop threat dodge rate on the selection seed (maximised)."""


def lstm_parameters(timesteps: int, units: int, num_features: int) -> int:
    """Trainable parameters of LSTM(units) + Dense(1); independent of `timesteps`."""
    del timesteps  # the LSTM shares its weights over time
    return 4 * units * (num_features + units + 1) + units + 1


# --- trial side (runs in a Ray worker process) -------------------------------------------------


def _trial(config: dict[str, Any], job: dict[str, Any]) -> None:
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
                                   seed=job["selection_seed"], arenas=ARENAS)
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


def _trial_dirname(trial: Any) -> str:
    """Tune trial folder and display name, e.g. `t5_u15_s0`."""
    c = trial.config
    return trial_name(c["timesteps"], c["units"], c["seed"])


# --- driver side -------------------------------------------------------------------------------


def _positive_unique(name: str, values: Sequence[int], minimum: int = 1) -> list[int]:
    out: list[int] = []
    for v in values:
        if int(v) != v or v < minimum:
            raise ValueError(f"{name} must be whole numbers >= {minimum}, got {v!r}")
        if int(v) not in out:
            out.append(int(v))
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def _finite(v: Any) -> Any:
    """NaN (Tune's objective of a failed trial) as None, so the JSON stays strict."""
    return None if isinstance(v, float) and not math.isfinite(v) else v


_TRIAL_METRICS = (
    "train_loss", "eval_loss", "history_min_loss", "history_min_val_loss", "best_epoch",
    "train_seconds", "convert_seconds", "convert_max_abs_err", "dodge_rate", "balls", "hits",
    "threat_balls", "threat_hits", "selection_eval_seconds", "node", "threads",
)


def _trial_row(
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
        "selection_threat_dodge_rate": _finite(metrics.get(OBJECTIVE)),
        "selection_threat_dodge_ci95": None, "epochs_run": metrics.get("epochs"),
        "trial_seconds": metrics.get("seconds"),
    }
    row.update({k: _finite(metrics.get(k)) for k in _TRIAL_METRICS})
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


def _report_eval(row: dict[str, Any], eval_balls: int, eval_seed: int,
                 scenario: Scenario) -> dict[str, Any]:
    """The pair's kept model, once, on the reported seed (fields of a sweep row)."""
    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.runtime.learned_policy import LearnedPolicy

    out: dict[str, Any] = dict.fromkeys(
        ("threat_dodge_rate", "threat_dodge_ci95", "dodge_rate", "hits", "balls",
         "threat_balls", "threat_hits", "eval_seconds"))
    out["arenas"] = ARENAS
    if row["error"] is not None:
        return out
    try:
        ev = evaluate_scenario(LearnedPolicy(row["tflite"]), scenario, eval_balls,
                               seed=eval_seed, arenas=ARENAS)
    except Exception as exc:
        return out | {"error": f"report evaluation: {type(exc).__name__}: {exc}"}
    return out | {
        "threat_dodge_rate": ev.threat_dodge_rate, "threat_dodge_ci95": list(ev.threat_dodge_ci95),
        "dodge_rate": ev.dodge_rate, "hits": ev.hits, "balls": ev.balls,
        "threat_balls": ev.threat_balls, "threat_hits": ev.threat_hits,
        "eval_seconds": ev.wall_seconds,
    }


def _baselines(eval_balls: int, eval_seed: int, scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Expert (the teacher) and stationary (no dodging) under the reported evaluate settings."""
    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.runtime.learned_policy import make_policy

    out: dict[str, dict[str, Any]] = {}
    for name in ("expert", "stationary"):
        try:
            out[name] = asdict(evaluate_scenario(make_policy(name), scenario, eval_balls,
                                                 seed=eval_seed, arenas=ARENAS))
        except Exception as exc:  # a reference number must not cost the sweep
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def _export(row: dict[str, Any], export_dir: Path, settings: dict[str, Any]) -> Path:
    """Copy the pair's kept model to `export_dir/lstm_t{N}_u{U}.tflite`, scores in its JSON."""
    import json

    from dodge_lstm.core.json_io import write_json
    from dodge_lstm.runtime.model_metadata import file_score, metadata_path_for

    dest = export_dir / f"lstm_t{row['timesteps']}_u{row['units']}.tflite"
    src = Path(row["tflite"])
    meta = json.loads(metadata_path_for(src).read_text(encoding="utf-8"))
    scores: dict[str, Any] = {
        "metric": "threat_dodge_rate",
        "arenas": ARENAS,
        "selection": {"seed": settings["selection_seed"], "balls": settings["eval_balls"],
                      "scenario": settings["scenario"],
                      "threat_dodge_rate": row["selection_threat_dodge_rate"],
                      "threat_dodge_ci95": row["selection_threat_dodge_ci95"]},
        "seed": row["seed"],
        "seeds_tried": row["seeds"],
        "train_config": {f.name: settings[f.name] for f in fields(TrainConfig)},
        "sweep": {"data_sha256": settings["data_sha256"], "timesteps": settings["timesteps"],
                  "units": settings["units"], "package_version": settings["package_version"]},
    }
    file_score(scores, settings["scenario"], {
        "seed": settings["eval_seed"], "balls": row["balls"],
        "threat_dodge_rate": row["threat_dodge_rate"],
        "threat_dodge_ci95": row["threat_dodge_ci95"], "dodge_rate": row["dodge_rate"]})
    meta["scores"] = scores
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    write_json(metadata_path_for(dest), meta)
    return dest


def _progress_callback(total: int, enabled: bool,
                       on_trial: Callable[[Any, dict[str, Any], str | None], None]) -> Any:
    """A Tune callback: a tqdm bar over trials, and `on_trial` as each one ends."""
    from ray import tune
    from tqdm import tqdm

    class _Progress(tune.Callback):  # type: ignore[misc]
        bar: Any = None  # made at the first trial start, below Tune's one-off header

        def _bar(self) -> Any:
            if self.bar is None:
                self.bar = tqdm(total=total, desc="sweep", unit="trial", disable=not enabled)
            return self.bar

        def on_trial_start(self, iteration: int, trials: list[Any], trial: Any,
                           **info: Any) -> None:
            self._bar()

        def _done(self, trial: Any, error: str | None) -> None:
            metrics = dict(trial.last_result or {})
            on_trial(trial, metrics, error)
            rate = _finite(metrics.get(OBJECTIVE))
            bar = self._bar()
            bar.update(1)
            bar.set_postfix_str(
                f"{_trial_dirname(trial)} " + ("failed" if error or metrics.get("error")
                                               or rate is None else f"dodge {rate:.1%}"))

        def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any,
                              **info: Any) -> None:
            self._done(trial, None)

        def on_trial_error(self, iteration: int, trials: list[Any], trial: Any,
                           **info: Any) -> None:
            self._done(trial, "trial error (see its error.txt)")

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            if self.bar is not None:
                self.bar.close()

        def __getstate__(self) -> dict[str, Any]:
            return {}  # Tune pickles its run config (tuner.pkl); a bar does not pickle

    return _Progress()


def _error_text(error: BaseException | None) -> str | None:
    if error is None:
        return None
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 600 else text[:600] + " …"


def run_sweep(
    *,
    data: str | Path,
    timesteps: Sequence[int],
    units: Sequence[int],
    out_dir: str | Path,
    config: TrainConfig,
    seeds: Sequence[int] = (0,),
    eval_balls: int = 2000,
    eval_seed: int = REPORTED_SEED,
    selection_seed: int = SELECTION_SEED,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_trial: int = 1,
    export_dir: str | Path | None = None,
    scenario: Scenario | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Run every (timesteps, units, seed) as a Ray Tune trial; keep each pair's best seed.

    Trials land in `out_dir/trials/t{N}_u{U}_s{S}/` (Tune's result files, the trial's
    stdout/stderr, and `checkpoint_000000/` with model.keras, model.tflite, model.json,
    history.csv, loss.png, trial.json). Every pair's kept model is then evaluated on
    `eval_seed` with `eval_balls` balls. `out_dir` gets `results.csv`/`results.md` (one row
    per pair), `trials.csv` (every trial), `sweep.json`, `loss_curves.png` and
    `dodge_heatmap.png`; the tables and JSON are rewritten as trials end, so a long sweep can
    be watched. With `export_dir`, each pair's kept model is copied there as
    `lstm_t{N}_u{U}.tflite` with its JSON, which gains `scores`. Returns the pair rows in grid
    order (timesteps-major).

    Every evaluation (selection, reported, the expert and stationary baselines) throws balls
    as `scenario` does (default: the `default` scenario, the 2020 setting): a sweep for a
    model meant for a mixture is ranked on that mixture.

    Each trial trains with `config` with its timesteps, units and seed replaced by the
    trial's; `sweep.json` settings hold every `config` field, `timesteps`, `units` and `seed`
    being the grid. `address` None starts a local Ray with `num_cpus` CPUs (default all);
    otherwise it is a cluster address (`auto`, `ray://HEAD:10001`), and `out_dir` and `data`
    must then be the same path on every node (a shared filesystem).
    """
    from tqdm import tqdm

    from dodge_lstm import __version__
    from dodge_lstm.core.dataset import Recording, file_sha256
    from dodge_lstm.learning.ray_cluster import ray_session

    t_start = time.perf_counter()
    scenario = scenario or SCENARIOS["default"]
    data = Path(data).resolve()  # trials run elsewhere (another cwd, maybe another node)
    if not data.is_file():
        raise FileNotFoundError(f"no dataset {data}; create one with `dodge-lstm dataset`")
    ts, us = _positive_unique("timesteps", timesteps), _positive_unique("units", units)
    ss = _positive_unique("seeds", seeds, minimum=0)
    config.validate()
    for name, v in (("eval_balls", eval_balls), ("cpus_per_trial", cpus_per_trial)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    if address is not None and num_cpus is not None:
        raise ValueError("num_cpus only sizes a local Ray instance; a cluster's CPUs are set "
                         "by `ray start --num-cpus` on each node")
    if address is None and cpus_per_trial > (num_cpus or os.cpu_count() or 1):
        raise ValueError(f"cpus_per_trial={cpus_per_trial} but the local Ray gets "
                         f"{num_cpus or os.cpu_count()} CPUs: no trial could ever start")
    if selection_seed == eval_seed:
        raise ValueError(f"selection_seed and eval_seed are both {eval_seed}: the reported "
                         f"score would be the one the seeds were chosen on")
    out = Path(out_dir).resolve()  # Tune's storage_path must be absolute
    if (out / EXPERIMENT).exists():
        raise FileExistsError(f"{out / EXPERIMENT} holds an earlier sweep's trials; choose "
                              f"another --out or delete it")
    out.mkdir(parents=True, exist_ok=True)
    rec = Recording.load(data)
    num_features, rows_in_data = rec.num_features, int(rec.features.shape[0])
    del rec

    settings: dict[str, Any] = {
        "data": str(data), "data_sha256": file_sha256(data), "data_rows": rows_in_data,
        "num_features": num_features, **asdict(config), "timesteps": ts, "units": us,
        "seed": ss, "eval_balls": eval_balls, "eval_seed": eval_seed,
        "selection_seed": selection_seed, "arenas": ARENAS, "objective": OBJECTIVE,
        "scenario": scenario.key, "scenario_description": scenario.description,
        "cpus_per_trial": cpus_per_trial, "trials": len(ts) * len(us) * len(ss),
        "ray_address": address, "storage": str(out / EXPERIMENT),
        "package_version": __version__, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    trials: dict[tuple[int, int, int], dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    baselines: dict[str, dict[str, Any]] = {}

    def ordered_trials() -> list[dict[str, Any]]:
        return [trials[k] for k in sorted(trials)]

    def save(complete: bool) -> None:
        settings["wall_seconds"] = time.perf_counter() - t_start
        write_outputs(out, rows, settings, baselines, complete=complete,
                      trials=ordered_trials())

    def on_trial(trial: Any, metrics: dict[str, Any], error: str | None) -> None:
        ckpt = trial.checkpoint
        row = _trial_row(trial.config, metrics, checkpoint=ckpt.path if ckpt else None,
                         trial_dir=None, error=error, num_features=num_features)
        trials[(row["timesteps"], row["units"], row["seed"])] = row
        save(complete=False)

    with ray_session(address, num_cpus) as session:
        from ray import tune

        settings.update(ray_version=session.ray_version, cluster_cpus=session.cluster_cpus,
                        nodes=session.nodes)
        if cpus_per_trial > session.cluster_cpus:
            raise ValueError(f"cpus_per_trial={cpus_per_trial} but the Ray cluster has "
                             f"{session.cluster_cpus:g} CPUs: no trial could ever start")
        job = {"data": str(data), "config": asdict(config), "cpus_per_trial": cpus_per_trial,
               "eval_balls": eval_balls, "selection_seed": selection_seed,
               "scenario": scenario}
        trainable = tune.with_resources(tune.with_parameters(_trial, job=job),
                                        {"cpu": cpus_per_trial})
        # Through Ray Client, Tune's loop (callbacks included) runs on the head: the tables
        # are still rewritten as trials end (OUT is shared), but no bar reaches this console.
        callbacks = [_progress_callback(settings["trials"], progress and not session.client,
                                        on_trial)]
        tuner = tune.Tuner(
            trainable,
            param_space={"timesteps": tune.grid_search(ts), "units": tune.grid_search(us),
                         "seed": tune.grid_search(ss)},
            tune_config=tune.TuneConfig(
                metric=OBJECTIVE, mode="max", reuse_actors=False,
                trial_name_creator=_trial_dirname, trial_dirname_creator=_trial_dirname),
            run_config=tune.RunConfig(
                # Each trial's stdout/stderr files travel to its folder under `out` too.
                name=EXPERIMENT, storage_path=str(out), log_to_file=True,
                sync_config=tune.SyncConfig(sync_artifacts=True),
                verbose=0, callbacks=callbacks,
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False)),
        )
        if session.client and progress:
            print(f"sweep: {settings['trials']} trials on the Ray cluster at {address}; "
                  f"{out / 'trials.csv'} grows as they end")
        grid = tuner.fit()
        for result in grid:
            ckpt = result.checkpoint
            row = _trial_row(result.config or {}, dict(result.metrics or {}),
                             checkpoint=ckpt.path if ckpt else None, trial_dir=result.path,
                             error=_error_text(result.error), num_features=num_features)
            trials[(row["timesteps"], row["units"], row["seed"])] = row

    settings["grid_seconds"] = time.perf_counter() - t_start
    missing = [(t, u, s) for t in ts for u in us for s in ss if (t, u, s) not in trials]
    for t, u, s in missing:  # Tune lost a trial altogether: say so rather than skip it
        trials[(t, u, s)] = _trial_row({"timesteps": t, "units": u, "seed": s}, {},
                                       checkpoint=None, trial_dir=None,
                                       error="no result from Ray", num_features=num_features)
    baselines.update(_baselines(eval_balls, eval_seed, scenario))
    kept = best_seeds(ordered_trials(), ts, us)
    for row in tqdm(kept, desc="report eval", unit="model", disable=not progress):
        row.update(_report_eval(row, eval_balls, eval_seed, scenario), export=None)
        if export_dir is not None and row["error"] is None:
            row["export"] = str(_export(row, Path(export_dir), settings))
        rows.append(row)
    save(complete=True)
    if progress:
        s = summary(rows)
        print(f"sweep: {len(trials)} trials, {s['models']} pairs, {s['errors']} failed, "
              f"{settings['wall_seconds'] / 60:.1f} min; wrote {out / 'results.md'}, "
              f"results.csv, trials.csv, sweep.json, loss_curves.png, dodge_heatmap.png"
              + (f"; models in {export_dir}" if export_dir is not None else ""))
    return rows
