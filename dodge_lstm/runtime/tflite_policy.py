"""Run a converted `.tflite` policy: one window in, one bounded `cmd_vel.linear.x` out.

This is the only learning module used on the robot, so it must stay light: numpy plus the
ai-edge-litert interpreter. TensorFlow is imported only as a fallback when ai-edge-litert is
missing. The metadata contract (`dodge_lstm.model/1`, see docs/DESIGN.md) lives here because
both the runtime (reader) and training/conversion (writers) need it without importing TF.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "METADATA_KEYS",
    "MODEL_FORMAT",
    "InvalidWindowError",
    "ModelError",
    "TFLitePolicy",
    "metadata_path_for",
    "metadata_problems",
    "read_metadata",
]

MODEL_FORMAT = "dodge_lstm.model/1"
METADATA_KEYS: tuple[str, ...] = (
    "format",
    "timesteps",
    "units",
    "num_features",
    "feature_names",
    "feature_mean",
    "feature_std",
    "speed_limit",
    "input_shape",
    "dataset_sha256",
    "train_loss",
    "eval_loss",
    "package_version",
    "seed",
)


class ModelError(ValueError):
    """A model file or its metadata cannot be used; the message says what to do about it."""


class InvalidWindowError(ValueError):
    """A window was rejected (wrong shape or non-finite values); callers count and skip it."""


def metadata_path_for(model_path: str | Path) -> Path:
    """`foo.tflite` -> `foo.json` (so `model.tflite` -> `model.json`), next to the model."""
    return Path(model_path).with_suffix(".json")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def metadata_problems(meta: Mapping[str, Any]) -> list[str]:
    """Every way `meta` violates the model metadata contract (empty list = valid)."""
    problems: list[str] = []
    missing = [k for k in METADATA_KEYS if k not in meta]
    if missing:
        problems.append(f"missing keys {missing}")
    if meta.get("format", MODEL_FORMAT) != MODEL_FORMAT:
        problems.append(f"format is {meta.get('format')!r}, expected {MODEL_FORMAT!r}")
    for key in ("timesteps", "units", "num_features"):
        if key in meta and not (_is_int(meta[key]) and meta[key] > 0):
            problems.append(f"{key} must be a positive integer, got {meta[key]!r}")
    if "speed_limit" in meta and not (_is_num(meta["speed_limit"]) and meta["speed_limit"] > 0):
        problems.append(f"speed_limit must be a positive number, got {meta['speed_limit']!r}")
    f = meta.get("num_features")
    for key in ("feature_names", "feature_mean", "feature_std"):
        if key not in meta:
            continue
        v = meta[key]
        if not isinstance(v, list) or (_is_int(f) and len(v) != f):
            problems.append(f"{key} must be a list of num_features={f} entries, got {v!r}")
        elif key == "feature_names" and not all(isinstance(s, str) for s in v):
            problems.append("feature_names must be strings")
        elif key != "feature_names" and not all(_is_num(s) for s in v):
            problems.append(f"{key} must hold finite numbers, got {v!r}")
        elif key == "feature_std" and min(v, default=1.0) <= 0:
            problems.append(f"feature_std must be > 0, got {v!r}")
    if all(k in meta for k in ("input_shape", "timesteps", "num_features")):
        expected = [1, meta["timesteps"], meta["num_features"]]
        if meta["input_shape"] != expected:
            problems.append(
                f"input_shape {meta['input_shape']!r} disagrees with [1, timesteps, num_features]"
                f" = {expected}"
            )
    for key in ("train_loss", "eval_loss"):
        if key in meta and meta[key] is not None and not _is_num(meta[key]):
            problems.append(f"{key} must be a finite number or null, got {meta[key]!r}")
    if "seed" in meta and meta["seed"] is not None and not _is_int(meta["seed"]):
        problems.append(f"seed must be an integer or null, got {meta['seed']!r}")
    for key in ("dataset_sha256", "package_version"):
        if key in meta and meta[key] is not None and not isinstance(meta[key], str):
            problems.append(f"{key} must be a string or null, got {meta[key]!r}")
    return problems


def read_metadata(path: str | Path, *, model_path: str | Path | None = None) -> dict[str, Any]:
    """Load and validate a model metadata JSON, raising `ModelError` with a remedy."""
    path = Path(path)
    owner = f"model {model_path}" if model_path is not None else "the model"
    if not path.is_file():
        raise ModelError(
            f"metadata {path} for {owner} is missing; the runtime needs it for normalization and "
            f"the speed limit. Copy the .json written by conversion next to the model (same stem)"
            f" or re-run conversion."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(
            f"metadata {path} for {owner} is not readable JSON ({exc}); re-run conversion to "
            f"regenerate it"
        ) from exc
    if not isinstance(meta, dict):
        raise ModelError(f"metadata {path} must hold a JSON object; re-run conversion")
    problems = metadata_problems(meta)
    if problems:
        raise ModelError(
            f"metadata {path} for {owner} is inconsistent: {'; '.join(problems)}. Re-run "
            f"conversion to regenerate it (do not edit it by hand)"
        )
    return meta


def _interpreter_class() -> tuple[type, str]:
    """ai-edge-litert's Interpreter; tf.lite only when litert is absent (keeps TF off robots)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            import tensorflow as tf  # `from tensorflow.lite import Interpreter` fails (lazy)
        except ImportError as exc:
            raise ModelError(
                "no TFLite interpreter available; install `ai-edge-litert` (pip) to run models"
            ) from exc
        return tf.lite.Interpreter, "tensorflow.lite"
    return Interpreter, "ai_edge_litert"


def _models_with_timesteps(directory: Path, timesteps: int, exclude: Path) -> list[Path]:
    """Sibling models whose metadata has the requested timesteps, to suggest in errors."""
    found = []
    for meta_path in sorted(directory.glob("*.json")):
        model = meta_path.with_suffix(".tflite")
        if model == exclude or not model.is_file():
            continue
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(meta, dict) and meta.get("timesteps") == timesteps:
            found.append(model)
    return found


class TFLitePolicy:
    """A converted LSTM policy: `policy(window[N, F]) -> command` in [-speed_limit, speed_limit].

    Normalization `(x - mean) / std` from the metadata is applied here, so callers pass raw
    feature windows exactly as `features.FeatureWindow` produces them. Buffers and tensor
    indices are prepared once; a call does one normalization, set_tensor, invoke, get_tensor.
    Not thread-safe (one interpreter, one input buffer).
    """

    def __init__(
        self,
        model_path: str | Path,
        *,
        timesteps: int | None = None,
        num_features: int | None = None,
        num_threads: int = 1,
    ) -> None:
        self.path = Path(model_path)
        if not self.path.is_file():
            raise ModelError(
                f"model {self.path} does not exist; check the `model` parameter or convert "
                f"a trained model with `dodge-lstm convert`"
            )
        self.metadata_path = metadata_path_for(self.path)
        self.metadata = read_metadata(self.metadata_path, model_path=self.path)
        meta = self.metadata
        n, f = int(meta["timesteps"]), int(meta["num_features"])

        if timesteps is not None and timesteps != n:
            others = _models_with_timesteps(self.path.parent, timesteps, self.path)
            hint = (
                f" or pick {' / '.join(str(p) for p in others)}"
                if others
                else f" or train and convert a model with timesteps={timesteps}"
            )
            raise ModelError(
                f"model {self.path} has timesteps {n} but timesteps={timesteps} was requested; "
                f"set the `timesteps` parameter to {n}{hint}"
            )
        if num_features is not None and num_features != f:
            raise ModelError(
                f"model {self.path} takes {f} features per row but num_features={num_features} "
                f"was requested ({num_features // 4} ball slots); use a model trained with "
                f"{num_features} features or set the number of slots to {f // 4}"
            )

        interpreter_cls, self.backend = _interpreter_class()
        try:
            self._interp = interpreter_cls(model_path=str(self.path), num_threads=num_threads)
            self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"model {self.path} cannot be loaded by the TFLite interpreter ({exc}); the file "
                f"is corrupt or not a .tflite flatbuffer: re-copy it or re-run conversion"
            ) from exc

        inputs = self._interp.get_input_details()
        outputs = self._interp.get_output_details()
        in_shape = [int(d) for d in inputs[0]["shape"]] if len(inputs) == 1 else None
        if in_shape != [1, n, f] or inputs[0]["dtype"] != np.float32:
            got = [(list(map(int, d["shape"])), np.dtype(d["dtype"]).name) for d in inputs]
            raise ModelError(
                f"model {self.path} has input(s) {got} but its metadata {self.metadata_path} "
                f"says [1, {n}, {f}] float32; the metadata belongs to another model: re-run "
                f"conversion to write matching .tflite and .json"
            )
        if len(outputs) != 1 or [int(d) for d in outputs[0]["shape"]] != [1, 1]:
            got = [list(map(int, d["shape"])) for d in outputs]
            raise ModelError(
                f"model {self.path} has output(s) {got}, expected one [1, 1] command; it is not a "
                f"dodge_lstm policy: convert it with `dodge-lstm convert`"
            )

        self.timesteps = n
        self.num_features = f
        self.units = int(meta["units"])
        self.speed_limit = float(meta["speed_limit"])
        self.feature_mean = np.asarray(meta["feature_mean"], dtype=np.float32)
        self.feature_std = np.asarray(meta["feature_std"], dtype=np.float32)
        self._inv_std = (1.0 / self.feature_std).astype(np.float32)
        self._window_shape = (n, f)
        self._buf = np.zeros((1, n, f), dtype=np.float32)
        self._row = self._buf[0]
        # Bound methods and indices fetched once: the per-call path does no dict lookups.
        self._in_index = int(inputs[0]["index"])
        self._out_index = int(outputs[0]["index"])
        self._set = self._interp.set_tensor
        self._invoke = self._interp.invoke
        self._get = self._interp.get_tensor

    def __repr__(self) -> str:
        return (
            f"TFLitePolicy({str(self.path)!r}, timesteps={self.timesteps}, units={self.units}, "
            f"num_features={self.num_features}, speed_limit={self.speed_limit})"
        )

    def normalize(self, windows: np.ndarray) -> np.ndarray:
        """Normalized float32 copy of [N, F] or [B, N, F] windows, bit-identical to `__call__`'s."""
        x = np.asarray(windows, dtype=np.float32)
        return ((x - self.feature_mean) * self._inv_std).astype(np.float32, copy=False)

    def __call__(self, window: np.ndarray) -> float:
        """Command for one raw window [N, F] (oldest row first); raises InvalidWindowError."""
        if type(window) is not np.ndarray:
            window = np.asarray(window, dtype=np.float32)
        if window.shape != self._window_shape:
            raise InvalidWindowError(
                f"window has shape {window.shape}, model {self.path.name} expects "
                f"{self._window_shape}"
            )
        row = self._row
        np.subtract(window, self.feature_mean, out=row)
        np.multiply(row, self._inv_std, out=row)
        # One reduction catches NaN and +-Inf anywhere (and overflow after normalization).
        if not math.isfinite(row.sum()):
            raise InvalidWindowError("window holds NaN or Inf values")
        self._set(self._in_index, self._buf)
        self._invoke()
        v = float(self._get(self._out_index)[0, 0])
        lim = self.speed_limit
        if v > lim:
            return lim
        if v < -lim:
            return -lim
        if v != v:
            raise ModelError(f"model {self.path} produced NaN for a finite window; re-convert it")
        return v

    def predict_many(self, windows: np.ndarray) -> np.ndarray:
        """Commands for raw windows [B, N, F], one interpreter call each (batch-1 model)."""
        windows = np.asarray(windows, dtype=np.float32)
        return np.fromiter((self(w) for w in windows), dtype=np.float64, count=len(windows))

    def op_names(self) -> list[str]:
        """Names of the ops in the graph (best effort: uses the interpreter's debug API)."""
        details = getattr(self._interp, "_get_ops_details", None)
        return sorted({d["op_name"] for d in details()}) if details else []
