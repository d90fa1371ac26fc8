"""Train the dodge LSTM with Keras: windows [B, N, F] -> bounded `cmd_vel.linear.x`.

TensorFlow/Keras are imported inside functions so that importing this module (e.g. from the
CLI's argument parsing) stays cheap and TF-free. Inputs arrive
already normalized; the mean/std travel in the metadata JSON and the runtime applies them, so
the model itself has no Normalization layer. What to train comes as one `TrainConfig`, which
`model.json` records in full.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.learning.train_config import TrainConfig
from dodge_lstm.runtime.model_metadata import write_metadata
from dodge_lstm.viz.loss_plot import plot_loss_history

__all__ = [
    "TrainResult",
    "build_model",
    "default_feature_names",
    "import_keras",
    "train",
    "train_dataset",
]


def import_keras() -> Any:
    """Import Keras with TF's C++ info logs muted (unless the user set the level)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def default_feature_names(num_features: int) -> list[str]:
    """`features.feature_names` for `num_features` columns (4 per ball slot)."""
    from dodge_lstm.core.features import FEATURES_PER_BALL, feature_names

    if num_features % FEATURES_PER_BALL:
        raise ValueError(f"num_features must be a multiple of 4, got {num_features}")
    return feature_names(num_features // FEATURES_PER_BALL)


def build_model(
    timesteps: int,
    units: int,
    num_features: int = 8,
    speed_limit: float = 1.0,
    batch_size: int | None = None,
    unroll: bool = False,
) -> Any:
    """Input[N, F] -> LSTM(units) -> Dense(1, tanh) -> x speed_limit.

    `speed_limit * tanh` bounds the command inside the robot's limit while staying smooth
    (gradients never vanish at the bound like clipping would). The scale is a built-in
    `Rescaling` layer so `model.keras` loads without custom objects. Layer names are part of
    the contract (`lstm`, `command`, `speed_limit`): conversion and `LSTMWeights` read them.
    """
    if timesteps < 1 or units < 1 or num_features < 1:
        raise ValueError(f"need timesteps, units, num_features >= 1: {timesteps, units}")
    if not (np.isfinite(speed_limit) and speed_limit > 0):
        raise ValueError(f"speed_limit must be positive, got {speed_limit}")
    keras = import_keras()
    inputs = keras.Input((timesteps, num_features), batch_size=batch_size, name="window")
    h = keras.layers.LSTM(units, unroll=unroll, name="lstm")(inputs)
    y = keras.layers.Dense(1, activation="tanh", name="command")(h)
    y = keras.layers.Rescaling(float(speed_limit), name="speed_limit")(y)
    return keras.Model(inputs, y, name=f"dodge_lstm_t{timesteps}_u{units}")


@dataclass
class TrainResult:
    """What `train` produced; losses are MSE in (m/s)^2 of the restored best weights."""

    model_path: Path
    metadata_path: Path
    history_path: Path
    plot_path: Path
    history: dict[str, list[float]]
    best_epoch: int  # 1-based
    train_loss: float
    eval_loss: float | None
    epochs_run: int
    seconds: float
    metadata: dict[str, Any] = field(repr=False, default_factory=dict)


def _progress_callback(epochs: int, enabled: bool) -> Any:
    """tqdm's Keras callback: one epoch bar (verbose=0: no per-batch bars), losses as postfix."""
    from tqdm.keras import TqdmCallback  # imports Keras: only once training runs

    return TqdmCallback(epochs=epochs, verbose=0, desc="train", disable=not enabled)


def _check_xy(name: str, x: np.ndarray, y: np.ndarray, n: int, f: int) -> tuple[Any, Any]:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32).reshape(-1, 1)
    if x.ndim != 3 or x.shape[1:] != (n, f):
        raise ValueError(f"{name} windows must be [B, {n}, {f}], got {x.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name}: {len(x)} windows but {len(y)} labels")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"{name} data holds NaN/Inf")
    return x, y


def _write_history(path: Path, history: Mapping[str, list[float]]) -> None:
    loss, val = history["loss"], history.get("val_loss", [])
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["epoch", "loss", "val_loss"])
        for i, v in enumerate(loss):
            w.writerow([i + 1, repr(float(v)), repr(float(val[i])) if i < len(val) else ""])


def train(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_eval: np.ndarray | None,
    y_eval: np.ndarray | None,
    *,
    config: TrainConfig,
    speed_limit: float,
    out_dir: str | Path,
    progress: bool = True,
    metadata: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Fit with Adam/MSE, early-stop on eval loss (best weights restored) and write artefacts.

    `x_*` are normalized windows [B, N, F], already split (so `config.eval_fraction` is only
    recorded here; `train_dataset` applies it). `metadata` supplies the dataset side of the
    model JSON (`feature_mean`, `feature_std`, `feature_names`, `dataset_sha256`); without it
    the identity normalization is recorded, which is right only if the inputs were not
    normalized. Writes `model.keras`, `model.json` (with `train_config`: every `config` field),
    `history.csv` and `loss.png` into `out_dir`.
    """
    t0 = time.perf_counter()
    config.validate()
    timesteps, units = config.timesteps, config.units
    f = int(np.asarray(x_train).shape[-1]) if np.ndim(x_train) == 3 else 8
    x_train, y_train = _check_xy("train", x_train, y_train, timesteps, f)
    has_eval = x_eval is not None and len(x_eval) > 0
    if has_eval:
        x_eval, y_eval = _check_xy("eval", x_eval, y_eval, timesteps, f)
    if len(x_train) == 0:
        raise ValueError("no training windows")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    keras = import_keras()
    keras.utils.set_random_seed(config.seed)
    model = build_model(timesteps, units, f, speed_limit)
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss="mse")
    monitor = "val_loss" if has_eval else "loss"
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, patience=config.patience, restore_best_weights=True
        ),
        _progress_callback(config.epochs, progress),
    ]
    fit = model.fit(
        x_train,
        y_train,
        validation_data=(x_eval, y_eval) if has_eval else None,
        epochs=config.epochs,
        batch_size=config.batch_size,
        shuffle=True,
        callbacks=callbacks,
        verbose=0,
    )
    history = {k: [float(v) for v in vs] for k, vs in fit.history.items() if "loss" in k}
    best_epoch = int(np.argmin(history[monitor])) + 1

    # Re-evaluate the restored weights: fit's `loss` is a running mean over a changing model.
    eval_bs = max(config.batch_size, 1024)
    train_loss = float(model.evaluate(x_train, y_train, batch_size=eval_bs, verbose=0))
    eval_loss = (
        float(model.evaluate(x_eval, y_eval, batch_size=eval_bs, verbose=0)) if has_eval else None
    )

    model_path = out / "model.keras"
    model.save(model_path)
    history_path = out / "history.csv"
    _write_history(history_path, history)
    plot_path = out / "loss.png"
    plot_loss_history(plot_path, history, best_epoch)

    extra = dict(metadata or {})
    extra.setdefault("feature_names", default_feature_names(f))
    extra.setdefault("feature_mean", [0.0] * f)
    extra.setdefault("feature_std", [1.0] * f)
    extra.setdefault("dataset_sha256", None)
    # What this run knows wins over caller-supplied extras.
    extra.update(
        timesteps=timesteps,
        units=units,
        num_features=f,
        speed_limit=float(speed_limit),
        train_loss=train_loss,
        eval_loss=eval_loss,
        seed=config.seed,
        train_config=asdict(config),
    )
    meta = write_metadata(out / "model.json", **extra)
    return TrainResult(
        model_path=model_path,
        metadata_path=out / "model.json",
        history_path=history_path,
        plot_path=plot_path,
        history=history,
        best_epoch=best_epoch,
        train_loss=train_loss,
        eval_loss=eval_loss,
        epochs_run=len(history["loss"]),
        seconds=time.perf_counter() - t0,
        metadata=meta,
    )


def train_dataset(
    data: str | Path,
    config: TrainConfig,
    *,
    out_dir: str | Path,
    progress: bool = True,
) -> TrainResult:
    """The `dodge-lstm train` step: raw recording -> windows -> split -> normalized -> `train`.

    The split holds out whole segments with their mirror twins (`core.split`); normalization
    statistics come from the training rows only and travel in the model's metadata, so the
    runtime applies exactly what training saw and the eval loss is measured honestly.
    """
    from dodge_lstm.core.dataset import Recording, file_sha256
    from dodge_lstm.core.split import split_windows
    from dodge_lstm.core.windows import make_windows

    config.validate()
    rec = Recording.load(data)
    w = make_windows(rec.features, rec.commands, rec.episode, config.timesteps)
    if len(w) == 0:
        raise ValueError(f"{data} has no episode longer than timesteps={config.timesteps}")
    rate = float(rec.meta.get("control_rate_hz", 10.0))
    split = split_windows(rec.episode, rec.origin, w.start, config.timesteps,
                          eval_fraction=config.eval_fraction,
                          segment_rows=round(config.segment_seconds * rate), seed=config.seed)
    mean, std = rec.normalization(~split.eval_rows)
    x = ((w.x - mean) / std).astype(np.float32)
    tr, ev = split.train_windows, split.eval_windows
    meta = {
        "feature_mean": mean.tolist(),
        "feature_std": std.tolist(),
        "feature_names": rec.meta.get("feature_names", default_feature_names(rec.num_features)),
        "dataset_sha256": file_sha256(data),
        "dataset": Path(data).name,
        "dataset_rows": int(rec.features.shape[0]),
        # What the rows saw of the balls (core.sensing): a graph must feed the model the same.
        "sensing": rec.meta.get("sensing", "truth"),
        "tracker": rec.meta.get("tracker"),
        "teacher": rec.meta.get("teacher", "truth"),
        "split_groups": split.groups,
        "train_windows": int(tr.sum()),
        "eval_windows": int(ev.sum()),
    }
    return train(
        x[tr], w.y[tr], x[ev], w.y[ev], config=config,
        speed_limit=float(rec.meta.get("speed_limit", 1.0)), out_dir=out_dir,
        progress=progress, metadata=meta,
    )
