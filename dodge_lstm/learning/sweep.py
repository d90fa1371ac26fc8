"""Sweep a grid of (timesteps, units): train, convert and closed-loop evaluate every pair.

The 2020 project picked 5-8 timesteps and ~15 units from loss curves alone. This sweep puts
the closed-loop threat dodge rate of the *converted* model (the deployed path) next to the
losses, so the two rankings can be compared. Pairs run in spawned processes, each with TF held
to one thread, so `workers` processes share `workers` cores without oversubscribing them.
TensorFlow is only imported inside the workers (through `training`/`conversion`).
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
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

import numpy as np

__all__ = ["ARENAS", "SWEEP_FORMAT", "lstm_parameters", "pair_name", "run_sweep"]

SWEEP_FORMAT = "dodge_lstm.learning.sweep/1"
ARENAS = 64
"""Parallel arenas per closed-loop evaluation: fixed so every pair (and baseline) is comparable."""

CSV_FIELDS = [
    "timesteps", "units", "parameters", "train_loss", "eval_loss", "history_min_loss",
    "history_min_val_loss", "best_epoch", "epochs_run", "train_seconds", "convert_seconds",
    "convert_max_abs_err", "eval_seconds", "threat_dodge_rate", "threat_dodge_ci95_low",
    "threat_dodge_ci95_high", "dodge_rate", "hits", "balls", "threat_balls", "threat_hits",
    "arenas", "tflite", "error",
]
_THREAD_VARS = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def lstm_parameters(timesteps: int, units: int, num_features: int) -> int:
    """Trainable parameters of LSTM(units) + Dense(1); independent of `timesteps`."""
    del timesteps  # the LSTM shares its weights over time
    return 4 * units * (num_features + units + 1) + units + 1


def pair_name(timesteps: int, units: int) -> str:
    """Directory name of one pair's outputs."""
    return f"t{timesteps}_u{units}"


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
            res = train_dataset(
                job["data"], timesteps=job["timesteps"], units=job["units"], out_dir=pair_dir,
                epochs=job["epochs"], seed=job["seed"], progress=False,
            )
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
    workers: int = 2,
    epochs: int = 40,
    seed: int = 0,
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
    """
    from tqdm import tqdm

    from dodge_lstm import __version__
    from dodge_lstm.core.dataset import Recording, file_sha256

    t_start = time.perf_counter()
    data = Path(data)
    if not data.is_file():
        raise FileNotFoundError(f"no dataset {data}; create one with `dodge-lstm dataset`")
    ts, us = _positive_unique("timesteps", timesteps), _positive_unique("units", units)
    for name, v in (("workers", workers), ("epochs", epochs), ("eval_balls", eval_balls)):
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
            "epochs": epochs, "seed": seed, "eval_balls": eval_balls, "eval_seed": eval_seed,
            "arenas": ARENAS, "parameters": lstm_parameters(t, u, num_features),
        }
        for t in ts for u in us
    ]
    settings: dict[str, Any] = {
        "data": str(data), "data_sha256": file_sha256(data), "data_rows": rows_in_data,
        "num_features": num_features, "timesteps": ts, "units": us, "epochs": epochs,
        "patience": 5, "batch_size": 256, "eval_fraction": 0.2, "seed": seed,
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
        _write_outputs(out, rows(), settings, baselines, complete=complete)

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
        s = _summary(rows())
        print(f"sweep: {s['models']} models, {s['errors']} failed, "
              f"{settings['wall_seconds'] / 60:.1f} min; wrote {out / 'results.md'}, "
              f"results.csv, sweep.json, loss_curves.png, dodge_heatmap.png")
    return rows()


def _short(row: dict[str, Any]) -> str:
    name = pair_name(row["timesteps"], row["units"])
    if row["error"]:
        return f"{name} failed"
    return f"{name} eval {row['eval_loss']:.4g} dodge {row['threat_dodge_rate']:.1%}"


# --- outputs ---------------------------------------------------------------------------------


def _write_outputs(
    out: Path,
    rows: list[dict[str, Any]],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    *,
    complete: bool,
) -> None:
    summary = _summary(rows)
    _atomic_write(out / "results.csv", _csv_text(rows))
    _atomic_write(out / "results.md", _markdown(rows, settings, baselines, summary))
    doc = {
        "format": SWEEP_FORMAT, "complete": complete, "settings": settings,
        "baselines": baselines, "summary": summary, "rows": rows,
    }
    _atomic_write(out / "sweep.json", json.dumps(doc, indent=1, default=_json_default) + "\n")
    if complete:
        _plot_loss_curves(out / "loss_curves.png", rows, settings)
        _plot_heatmap(out / "dodge_heatmap.png", rows, settings, baselines)


def _json_default(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    raise TypeError(f"not JSON serializable: {type(v).__name__}")


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temp file so someone watching the sweep never reads half a file."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _csv_text(rows: list[dict[str, Any]]) -> str:
    import io

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        ci = row.get("threat_dodge_ci95") or [None, None]
        w.writerow(row | {"threat_dodge_ci95_low": ci[0], "threat_dodge_ci95_high": ci[1]})
    return buf.getvalue()


def _ok(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r["error"]]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (for Spearman)."""
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    for v in np.unique(x):
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def _spearman(a: Sequence[float], b: Sequence[float]) -> float | None:
    a_arr, b_arr = np.asarray(a, float), np.asarray(b, float)
    if len(a_arr) < 3:
        return None
    ra, rb = _ranks(a_arr), _ranks(b_arr)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
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
        "spearman_eval_loss_vs_threat_dodge": _spearman(
            [r["eval_loss"] for r in ok], [r["threat_dodge_rate"] for r in ok]
        ),
    }


def _loss(v: float | None) -> str:
    return "—" if v is None else f"{v:.4f}"


def _pct_ci(rate: float, ci: Sequence[float]) -> str:
    return f"{rate:.1%} ({ci[0]:.1%}–{ci[1]:.1%})"


def _markdown(
    rows: list[dict[str, Any]],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
    summary: dict[str, Any],
) -> str:
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
    if summary.get("models"):
        rho = summary["spearman_eval_loss_vs_threat_dodge"]
        lines += [
            "",
            f"Lowest eval loss: {summary['best_eval_loss']}. Highest threat dodge rate: "
            f"{summary['best_threat_dodge']}; pairs whose CI overlaps it: "
            f"{', '.join(summary['within_ci_of_best_dodge'])}.",
            "",
            "Spearman rank correlation of eval loss and threat dodge rate over "
            f"{summary['models']} models: "
            + (f"{rho:+.2f}" if rho is not None else "n/a")
            + " (−1: lower loss always dodges better; 0: loss says nothing about dodging).",
        ]
    lines += ["", f"Sweep wall time {s.get('wall_seconds', 0.0) / 60:.1f} min with "
              f"{s['workers']} workers × 1 thread."]
    return "\n".join(lines) + "\n"


def _figure(w: float, h: float) -> Any:
    # Figure + Agg canvas directly: no pyplot, so no global backend switch in the caller.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _plot_loss_curves(path: Path, rows: list[dict[str, Any]], settings: dict[str, Any]) -> None:
    """One subplot per timesteps value; a colour per units value, train solid, eval dashed."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    ts, us = settings["timesteps"], settings["units"]
    ncols = min(len(ts), 3)
    nrows = math.ceil(len(ts) / ncols)
    spare = nrows * ncols > len(ts)
    fig = _figure(4.6 * ncols, 3.6 * nrows)
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


def _plot_heatmap(
    path: Path,
    rows: list[dict[str, Any]],
    settings: dict[str, Any],
    baselines: dict[str, dict[str, Any]],
) -> None:
    """Timesteps × units grid of the closed-loop threat dodge rate, each cell annotated."""
    import matplotlib as mpl

    ts, us = settings["timesteps"], settings["units"]
    rate = np.full((len(ts), len(us)), np.nan)
    half = np.full_like(rate, np.nan)
    for r in rows:
        if r["threat_dodge_rate"] is not None:
            i, j = ts.index(r["timesteps"]), us.index(r["units"])
            rate[i, j] = 100 * r["threat_dodge_rate"]
            lo, hi = r["threat_dodge_ci95"]
            half[i, j] = 100 * (hi - lo) / 2
    fig = _figure(1.3 * len(us) + 2.6, 0.9 * len(ts) + 1.8)
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
    if baselines:
        title += "\n" + ", ".join(
            f"{k} {100 * b['threat_dodge_rate']:.1f}%" for k, b in baselines.items()
            if "error" not in b
        )
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="threat dodge rate [%]")
    fig.tight_layout()
    fig.savefig(path)
