"""Sweep a grid of (timesteps, units) × seeds on Ray Tune, scored by closed-loop dodging.

The 2020 project picked 5-8 timesteps and ~15 units from loss curves alone. Here every trial
trains, converts to TFLite (the deployed path) and is scored by its closed-loop threat dodge
rate on a *selection* seed: that rate, not the loss, is Tune's objective. One seed can get
lucky, so each pair trains under several seeds; the seed with the best selection score is kept
and only that model is evaluated once on the *reported* seed, which no choice ever saw (as in
DAgger). Ray schedules the trials (`cpus_per_trial` CPUs each, TF held to as many threads), on
this machine or on a cluster (`ray_cluster.ray_session`), so the sweep code is the same for
both. Ray and TensorFlow are only imported inside functions.

This module drives the sweep (`run_sweep`); one trial is `sweep_trial`'s, the trial rows and
each pair's kept seed `sweep_selection`'s, the reported scores and the export `sweep_scores`',
the tables and JSON `sweep_report`'s, the plots `viz.sweep_plots`'.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dodge_lstm.core.evaluation import REPORTED_SEED, SELECTION_SEED
from dodge_lstm.core.scenarios import SCENARIOS, Scenario
from dodge_lstm.core.sensing import SensorConfig, sensing_label
from dodge_lstm.core.tracking import TrackerConfig, tracker_name
from dodge_lstm.learning.sweep_report import (
    SWEEP_FORMAT,
    pair_name,
    summary,
    trial_name,
    write_outputs,
)
from dodge_lstm.learning.sweep_scores import evaluate_baselines, export_model, report_eval
from dodge_lstm.learning.sweep_selection import best_seeds, finite, lstm_parameters, trial_row
from dodge_lstm.learning.sweep_trial import ARENAS, OBJECTIVE, run_trial, trial_dirname
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

EXPERIMENT = "trials"
"""Ray Tune experiment folder under the sweep's `out`: one sub-folder per trial."""


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
            rate = finite(metrics.get(OBJECTIVE))
            bar = self._bar()
            bar.update(1)
            bar.set_postfix_str(
                f"{trial_dirname(trial)} " + ("failed" if error or metrics.get("error")
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
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
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
    model meant for a mixture is ranked on that mixture. With `sensing` (not `truth`) every
    evaluation sees the balls through that detector and `tracker` (`core.perception`): a sweep
    for a model meant for a robot's detector is ranked on what that detector reports.

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
        "sensing": sensing_label(sensing or SensorConfig()),
        "tracker": None if sensing is None or sensing.is_truth else tracker_name(tracker),
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
        row = trial_row(trial.config, metrics, checkpoint=ckpt.path if ckpt else None,
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
               "scenario": scenario, "sensing": sensing, "tracker": tracker}
        trainable = tune.with_resources(tune.with_parameters(run_trial, job=job),
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
                trial_name_creator=trial_dirname, trial_dirname_creator=trial_dirname),
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
            row = trial_row(result.config or {}, dict(result.metrics or {}),
                            checkpoint=ckpt.path if ckpt else None, trial_dir=result.path,
                            error=_error_text(result.error), num_features=num_features)
            trials[(row["timesteps"], row["units"], row["seed"])] = row

    settings["grid_seconds"] = time.perf_counter() - t_start
    missing = [(t, u, s) for t in ts for u in us for s in ss if (t, u, s) not in trials]
    for t, u, s in missing:  # Tune lost a trial altogether: say so rather than skip it
        trials[(t, u, s)] = trial_row({"timesteps": t, "units": u, "seed": s}, {},
                                      checkpoint=None, trial_dir=None,
                                      error="no result from Ray", num_features=num_features)
    baselines.update(evaluate_baselines(eval_balls, eval_seed, scenario, sensing, tracker))
    kept = best_seeds(ordered_trials(), ts, us)
    for row in tqdm(kept, desc="report eval", unit="model", disable=not progress):
        row.update(report_eval(row, eval_balls, eval_seed, scenario, sensing, tracker),
                   export=None)
        if export_dir is not None and row["error"] is None:
            row["export"] = str(export_model(row, Path(export_dir), settings))
        rows.append(row)
    save(complete=True)
    if progress:
        s = summary(rows)
        print(f"sweep: {len(trials)} trials, {s['models']} pairs, {s['errors']} failed, "
              f"{settings['wall_seconds'] / 60:.1f} min; wrote {out / 'results.md'}, "
              f"results.csv, trials.csv, sweep.json, loss_curves.png, dodge_heatmap.png"
              + (f"; models in {export_dir}" if export_dir is not None else ""))
    return rows
