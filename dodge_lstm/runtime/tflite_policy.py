"""Run a converted `.tflite` policy: one window in, one bounded `cmd_vel.linear.x` out.

This is what runs on the robot, so it stays light: numpy plus the ai-edge-litert interpreter,
never TensorFlow. The metadata it checks against is `model_metadata`'s contract.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dodge_lstm.runtime.model_metadata import ModelError, metadata_path_for, read_metadata

__all__ = ["InvalidWindowError", "ModelError", "TFLitePolicy"]

MAX_ABS_Z = 1e4
"""Normalized feature values beyond this many standard deviations are not a sensor reading:
real rows stay within a few (positions within metres, speeds within m/s)."""
MAX_NORMALIZED_ENERGY = MAX_ABS_Z * MAX_ABS_Z


class InvalidWindowError(ValueError):
    """A window was rejected (wrong shape or non-finite values); callers count and skip it."""



def _interpreter_class() -> tuple[type, str]:
    """ai-edge-litert's Interpreter (never tf.lite: TensorFlow stays off the robot)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError(
            "no TFLite interpreter available; install `ai-edge-litert` (pip) to run models"
        ) from exc
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
                f"model {self.path} does not exist; check the path (`--policy`/`--model` on the "
                f"command line, the `model` parameter of the policy node) or convert a trained "
                f"model with `dodge-lstm convert`"
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
                f"set timesteps to {n} (`--timesteps` on the command line, the `timesteps` "
                f"parameter of the nodes){hint}"
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
        self._flat = self._row.reshape(-1)  # a view: the dot product reads the buffer in place
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
        # One reduction catches NaN and +-Inf anywhere, overflow after normalization, and
        # finite values far outside anything a feature row can hold (3e38 makes the LSTM NaN).
        energy = float(np.dot(self._flat, self._flat))
        if not energy <= MAX_NORMALIZED_ENERGY:
            if not math.isfinite(float(np.sum(window))):
                raise InvalidWindowError("window holds NaN or Inf values")
            raise InvalidWindowError(
                f"window values are out of range (more than {MAX_ABS_Z:g} standard deviations "
                f"from the training data)")
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
