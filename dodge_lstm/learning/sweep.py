"""Sweep a grid of (timesteps, units): train, convert and closed-loop evaluate every pair.

The 2020 project picked 5-8 timesteps and ~15 units from loss curves alone. This sweep puts
the closed-loop threat dodge rate of the *converted* model (the deployed path) next to the
losses, so the two rankings can be compared. Pairs run in spawned processes, each with TF held
to one thread, so `workers` processes share `workers` cores without oversubscribing them.
TensorFlow is only imported inside the workers (through `training`/`conversion`). The tables
and JSON are `sweep_report`'s, the plots `viz.sweep_plots`'.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path
from typing import Any

from dodge_lstm.learning.sweep_report import (
    CSV_FIELDS,
    SWEEP_FORMAT,
    pair_name,
    summary,
    write_outputs,
)
from dodge_lstm.learning.train_config import TrainConfig

__all__ = ["ARENAS", "SWEEP_FORMAT", "lstm_parameters", "pair_name", "run_sweep"]

ARENAS = 64
"""Parallel arenas per closed-loop evaluation: fixed so every pair (and baseline) is comparable."""

_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def lstm_parameters(timesteps: int, units: int, num_features: int) -> int:
    """Trainable parameters of LSTM(units) + Dense(1); independent of `timesteps`."""
    del timesteps  # the LSTM shares its weights over time
    return 4 * units * (num_features + units + 1) + units + 1


# --- worker side -----------------------------------------------------------------------------


def _init_worker() -> None:
    """Pin TF (and OpenMP) to one thread; runs before the worker's first TF import."""
    for var in _THREAD_VARS:
        os.environ[var] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@contextlib.contextmanager
def _output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout/stderr (TF's C++ logs included) to `path` for a while.

    Keeps the parent's progress bar readable and leaves a log per pair for post-mortems.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with path.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _empty_row(job: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in CSV_FIELDS if not k.startswith("threat_dodge_ci95")}
    row.update(
        timesteps=job["timesteps"], units=job["units"], parameters=job["parameters"],
        arenas=job["arenas"], threat_dodge_ci95=None, history=None, pair_seconds=None,
    )
    return row


def _run_pair(job: dict[str, Any]) -> dict[str, Any]:
    """Train, convert and evaluate one pair; any exception becomes the row's `error`."""
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.learning.conversion import check_windows_for
    from dodge_lstm.runtime.learned_policy import make_policy

    t0 = time.perf_counter()
    row = _empty_row(job)
    pair_dir = Path(job["out_dir"]) / pair_name(job["timesteps"], job["units"])
    pair_dir.mkdir(parents=True, exist_ok=True)
    stage = "train"
    with _output_to(pair_dir / "worker.log"):
        try:
            from dodge_lstm.learning.training import build_model, train_dataset

            build_model(1, 1)  # import Keras now, so train_seconds times training, not imports
            res = train_dataset(job["data"], job["config"], out_dir=pair_dir, progress=False)
            row.update(
                train_loss=res.train_loss, eval_loss=res.eval_loss,
                history_min_loss=min(res.history["loss"]),
                history_min_val_loss=min(res.history.get("val_loss", []), default=None),
                best_epoch=res.best_epoch, epochs_run=res.epochs_run,
                train_seconds=res.seconds, history=res.history,
            )
            stage = "convert"
            from dodge_lstm.learning.conversion import convert

            tflite = pair_dir / "model.tflite"
            rep = convert(pair_dir, tflite,
                          check_windows=check_windows_for(pair_dir, Path(job["data"])))
            row.update(convert_seconds=rep.seconds, convert_max_abs_err=rep.max_abs_err,
                       tflite=str(tflite))
            stage = "evaluate"
            ev = evaluate(make_policy(str(tflite)), job["eval_balls"], seed=job["eval_seed"],
                          arenas=job["arenas"])
            row.update(
                eval_seconds=ev.wall_seconds, threat_dodge_rate=ev.threat_dodge_rate,
                threat_dodge_ci95=list(ev.threat_dodge_ci95), dodge_rate=ev.dodge_rate,
                hits=ev.hits, balls=ev.balls, threat_balls=ev.threat_balls,
                threat_hits=ev.threat_hits,
            )
        except Exception as exc:
            row["error"] = f"{stage}: {type(exc).__name__}: {exc}"
            traceback.print_exc()  # into worker.log
    row["pair_seconds"] = time.perf_counter() - t0
    return row


# --- parent side -----------------------------------------------------------------------------


def _positive_unique(name: str, values: Sequence[int]) -> list[int]:
    out: list[int] = []
    for v in values:
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be positive integers, got {v!r}")
        if int(v) not in out:
            out.append(int(v))
    if not out:
        raise ValueError(f"{name} is empty")
    return out


def _error_row(job: dict[str, Any], msg: str) -> dict[str, Any]:
    row = _empty_row(job)
    row["error"] = msg
    return row


def _run_pool(
    jobs: list[dict[str, Any]],
    workers: int,
    on_row: Callable[[dict[str, Any]], None],
    *,
    retry_crashed: bool,
    while_waiting: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `jobs` in a spawn pool; return the jobs lost to a dead worker (if retrying).

    A worker that dies (segfault, OOM kill) breaks the whole pool and fails every unfinished
    job with it, so those are handed back to be rerun one per pool, where a crash is the job's
    own.
    """
    lost: list[dict[str, Any]] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                             initializer=_init_worker) as pool:
        futures = {pool.submit(_run_pair, job): job for job in jobs}
        if while_waiting is not None:
            while_waiting()
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                row = fut.result()
            except BrokenProcessPool as exc:
                if retry_crashed:
                    lost.append(job)
                    continue
                row = _error_row(job, f"worker died: {type(exc).__name__}: {exc}")
            except Exception as exc:  # e.g. a result that would not unpickle
                row = _error_row(job, f"worker: {type(exc).__name__}: {exc}")
            on_row(row)
    return lost


def _baselines(eval_balls: int, eval_seed: int) -> dict[str, dict[str, Any]]:
    """Expert (the teacher) and stationary (no dodging) under the sweep's evaluate settings."""
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.runtime.learned_policy import make_policy

    out: dict[str, dict[str, Any]] = {}
    for name in ("expert", "stationary"):
        try:
            out[name] = asdict(evaluate(make_policy(name), eval_balls, seed=eval_seed,
                                        arenas=ARENAS))
        except Exception as exc:  # a reference number must not cost the sweep
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def run_sweep(
    *,
    data: str | Path,
    timesteps: Sequence[int],
    units: Sequence[int],
    out_dir: str | Path,
    config: TrainConfig,
    workers: int = 2,
    eval_balls: int = 2000,
    eval_seed: int = 7,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train/convert/evaluate every (timesteps, units) pair; write tables, plots and JSON.

    Each pair goes to `out_dir/t{N}_u{U}/` (model.keras, model.tflite, model.json, history,
    worker.log). `out_dir` gets `results.csv`, `results.md`, `loss_curves.png`,
    `dodge_heatmap.png` and `sweep.json`; the CSV/MD/JSON are rewritten after every pair, so
    a long sweep can be watched. A failing pair becomes a row with `error` set. Returns the
    rows in grid order (timesteps-major).

    Every pair trains with `config` with its `timesteps` and `units` replaced by the pair's;
    `sweep.json` settings hold every `config` field, `timesteps` and `units` being the grid.
    """
    from tqdm import tqdm

    from dodge_lstm import __version__
    from dodge_lstm.core.dataset import Recording, file_sha256

    t_start = time.perf_counter()
    data = Path(data)
    if not data.is_file():
        raise FileNotFoundError(f"no dataset {data}; create one with `dodge-lstm dataset`")
    ts, us = _positive_unique("timesteps", timesteps), _positive_unique("units", units)
    config.validate()
    for name, v in (("workers", workers), ("eval_balls", eval_balls)):
        if v < 1:
            raise ValueError(f"{name} must be >= 1, got {v}")
    rec = Recording.load(data)
    num_features, rows_in_data = rec.num_features, int(rec.features.shape[0])
    del rec
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    jobs = [
        {
            "data": str(data), "timesteps": t, "units": u, "out_dir": str(out),
            "config": config.with_(timesteps=t, units=u), "eval_balls": eval_balls,
            "eval_seed": eval_seed, "arenas": ARENAS,
            "parameters": lstm_parameters(t, u, num_features),
        }
        for t in ts for u in us
    ]
    settings: dict[str, Any] = {
        "data": str(data), "data_sha256": file_sha256(data), "data_rows": rows_in_data,
        "num_features": num_features, **asdict(config), "timesteps": ts, "units": us,
        "eval_balls": eval_balls, "eval_seed": eval_seed, "arenas": ARENAS,
        "workers": workers, "threads_per_worker": 1, "package_version": __version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    order = {(j["timesteps"], j["units"]): i for i, j in enumerate(jobs)}
    done: dict[tuple[int, int], dict[str, Any]] = {}
    baselines: dict[str, dict[str, Any]] = {}

    def rows() -> list[dict[str, Any]]:
        return sorted(done.values(), key=lambda r: order[(r["timesteps"], r["units"])])

    def save(complete: bool) -> None:
        settings["wall_seconds"] = time.perf_counter() - t_start
        write_outputs(out, rows(), settings, baselines, complete=complete)

    with tqdm(total=len(jobs), desc="sweep", unit="model", disable=not progress) as bar:

        def on_row(row: dict[str, Any]) -> None:
            done[(row["timesteps"], row["units"])] = row
            bar.update(1)
            bar.set_postfix_str(_short(row))
            save(complete=False)

        def compute_baselines() -> None:
            baselines.update(_baselines(eval_balls, eval_seed))

        lost = _run_pool(jobs, min(workers, len(jobs)), on_row, retry_crashed=True,
                         while_waiting=compute_baselines)
        for job in lost:
            _run_pool([job], 1, on_row, retry_crashed=False)
    if not baselines:  # pool setup failed before the hook ran
        compute_baselines()
    save(complete=True)
    if progress:
        s = summary(rows())
        print(f"sweep: {s['models']} models, {s['errors']} failed, "
              f"{settings['wall_seconds'] / 60:.1f} min; wrote {out / 'results.md'}, "
              f"results.csv, sweep.json, loss_curves.png, dodge_heatmap.png")
    return rows()


def _short(row: dict[str, Any]) -> str:
    name = pair_name(row["timesteps"], row["units"])
    if row["error"]:
        return f"{name} failed"
    return f"{name} eval {row['eval_loss']:.4g} dodge {row['threat_dodge_rate']:.1%}"
