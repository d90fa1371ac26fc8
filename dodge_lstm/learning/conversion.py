"""Convert a trained `model.keras` to a builtins-only `.tflite` and prove it computes the same.

Keras 3 LSTMs convert cleanly only from a fixed batch-1, unrolled copy: with a dynamic batch
the converter needs TensorList ops (Flex), and a `tf.function` concrete-function route leaves
resource-variable ops that the interpreter cannot run (NaN / READ_VARIABLE errors). So we
rebuild the model with `batch_size=1, unroll=True`, copy the weights, convert it through the
SavedModel path, and accept the result only after comparing it to Keras on real windows.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.learning.training import build_model, import_keras
from dodge_lstm.runtime.model_metadata import (
    ModelError,
    metadata_path_for,
    metadata_problems,
    read_metadata,
    write_metadata,
)
from dodge_lstm.runtime.tflite_policy import TFLitePolicy

__all__ = ["ConversionError", "ConversionReport", "convert", "resolve_model"]

MAX_CHECK_WINDOWS = 1000


class ConversionError(RuntimeError):
    """The model could not be converted, or the converted model disagrees with Keras."""


@dataclass
class ConversionReport:
    """Outcome of `convert`; `max_abs_err` is over `n_checked` windows, in m/s."""

    tflite_path: Path
    metadata_path: Path
    route: str
    max_abs_err: float
    n_checked: int
    tflite_bytes: int
    seconds: float
    check_source: str  # "given" or "random"
    ops: list[str] = field(default_factory=list)
    failed_routes: dict[str, str] = field(default_factory=dict)


def resolve_model(model_dir_or_keras_path: str | Path) -> tuple[Path, Path]:
    """(`model.keras`, its metadata JSON) for a training output dir or a `.keras` path."""
    p = Path(model_dir_or_keras_path)
    keras_path = p / "model.keras" if p.is_dir() else p
    if not keras_path.is_file():
        raise ConversionError(
            f"no Keras model at {keras_path}; pass a training output directory (holding "
            f"model.keras) or the .keras file itself"
        )
    meta_path = metadata_path_for(keras_path)
    if not meta_path.is_file():
        raise ConversionError(
            f"no metadata {meta_path} beside {keras_path}; it carries normalization and the "
            f"speed limit the runtime needs: re-run training, which writes it"
        )
    return keras_path, meta_path


def _tf_lite() -> Any:
    import_keras()  # sets the TF log level before TF loads
    import tensorflow as tf

    return tf


def _converter_routes(model: Any, workdir: Path) -> list[tuple[str, Callable[[], Any]]]:
    """Converter factories to try in order; both go through a SavedModel export."""
    tf = _tf_lite()

    def from_keras_model() -> Any:
        return tf.lite.TFLiteConverter.from_keras_model(model)

    def via_export() -> Any:
        saved = workdir / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        return tf.lite.TFLiteConverter.from_saved_model(str(saved))

    return [("from_keras_model", from_keras_model), ("export+from_saved_model", via_export)]


def _to_tflite(model: Any) -> tuple[bytes, str, dict[str, str]]:
    tf = _tf_lite()
    failed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="dodge_lstm_convert_") as tmp:
        for name, make in _converter_routes(model, Path(tmp)):
            try:
                # from_keras_model prints the export signature to stdout; keep CLI output clean.
                with contextlib.redirect_stdout(io.StringIO()):
                    converter = make()
                    # Builtins only: Flex (SELECT_TF_OPS) would drag TensorFlow onto the robot.
                    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
                    return bytes(converter.convert()), name, failed
            except Exception as exc:
                failed[name] = f"{type(exc).__name__}: {str(exc).strip()[-500:]}"
    raise ConversionError(
        "TFLite conversion failed with builtin ops only (Flex/select TF ops are not allowed): "
        + " | ".join(f"{k}: {v}" for k, v in failed.items())
    )


def _model_params(model: Any) -> dict[str, Any]:
    try:
        lstm = model.get_layer("lstm")
        scale = model.get_layer("speed_limit").scale
    except ValueError as exc:
        raise ConversionError(
            f"model is not a dodge_lstm.learning.training.build_model model ({exc})"
        ) from exc
    _, n, f = model.input_shape
    return {
        "timesteps": int(n),
        "num_features": int(f),
        "units": int(lstm.units),
        "speed_limit": float(scale),
    }


def _check_set(
    check_windows: np.ndarray | None, n: int, f: int, mean: np.ndarray, std: np.ndarray
) -> tuple[np.ndarray, str]:
    if check_windows is None:
        # Random raw windows that normalize to N(0, 1): the input range training saw.
        rng = np.random.default_rng(0)
        return (mean + std * rng.standard_normal((256, n, f))).astype(np.float32), "random"
    w = np.asarray(check_windows, dtype=np.float32)
    if w.ndim != 3 or w.shape[1:] != (n, f) or len(w) == 0:
        raise ConversionError(f"check_windows must be [B>0, {n}, {f}], got {w.shape}")
    if not np.isfinite(w).all():
        raise ConversionError("check_windows hold NaN/Inf; pass finite dataset windows")
    if len(w) > MAX_CHECK_WINDOWS:  # evenly spaced, so the check spans the whole dataset
        w = w[np.linspace(0, len(w) - 1, MAX_CHECK_WINDOWS).round().astype(int)]
    return w, "given"


def convert(
    model_dir_or_keras_path: str | Path,
    out_tflite: str | Path,
    *,
    check_windows: np.ndarray | None,
    atol: float = 1e-5,
) -> ConversionReport:
    """Convert, write `out_tflite` + its `.json` metadata, and verify parity with Keras.

    `check_windows` are raw (unnormalized) windows [B, N, F], e.g. dataset windows; up to 1000
    are run one by one through `runtime.TFLitePolicy` (the deployed code path, normalization
    included) and compared with Keras `predict` on the same normalized inputs. `None` checks
    256 random windows instead. On a mismatch > `atol` the outputs are deleted and
    `ConversionError` is raised with the max abs error.
    """
    t0 = time.perf_counter()
    keras_path, meta_path = resolve_model(model_dir_or_keras_path)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    problems = metadata_problems(meta)
    if problems:
        raise ConversionError(f"training metadata {meta_path} is invalid: {'; '.join(problems)}")

    keras = import_keras()
    model = keras.models.load_model(keras_path, compile=False)
    params = _model_params(model)
    mismatched = {k: (meta.get(k), v) for k, v in params.items() if meta.get(k) != v}
    if mismatched:
        raise ConversionError(
            f"{meta_path} does not describe {keras_path} (metadata vs model: {mismatched}); "
            f"keep the model.keras and model.json of one training run together"
        )

    windows, source = _check_set(
        check_windows,
        params["timesteps"],
        params["num_features"],
        np.asarray(meta["feature_mean"], dtype=np.float32),
        np.asarray(meta["feature_std"], dtype=np.float32),
    )

    deploy = build_model(**params, batch_size=1, unroll=True)
    deploy.set_weights(model.get_weights())
    blob, route, failed = _to_tflite(deploy)

    out = Path(out_tflite)
    out_meta = metadata_path_for(out)
    fields = {k: v for k, v in meta.items() if k not in ("format", "input_shape")}
    fields["input_shape"] = [1, params["timesteps"], params["num_features"]]
    # Check in a staging folder and only then put the files in place: a rejected conversion
    # must leave nothing behind, and must never touch the training run's own model.json
    # (which *is* out_meta when converting to <run>/model.tflite).
    with tempfile.TemporaryDirectory(prefix="dodge_convert_") as staging:
        staged = Path(staging) / out.name
        staged.write_bytes(blob)
        write_metadata(metadata_path_for(staged), **fields)
        try:
            policy = TFLitePolicy(staged)
        except ModelError as exc:  # e.g. Flex ops the builtin interpreter cannot resolve
            raise ConversionError(
                f"converted model does not load in the TFLite interpreter: {exc}") from exc
        ops = policy.op_names()
        flex = [o for o in ops if o.startswith("Flex")]
        if flex:
            raise ConversionError(
                f"converted model needs Flex ops {flex}; only TFLite builtins are allowed")

        ref = model.predict(policy.normalize(windows), batch_size=256, verbose=0)[:, 0]
        got = policy.predict_many(windows)
        err = np.abs(got - ref.astype(np.float64))
        max_err = float(np.max(err)) if np.isfinite(err).all() else float("inf")
        if not max_err <= atol:
            worst = int(np.argmax(np.nan_to_num(err, nan=np.inf)))
            raise ConversionError(
                f"TFLite and Keras disagree: max abs error {max_err:.3g} > atol {atol:g} over "
                f"{len(windows)} windows (worst window {worst}: tflite {got[worst]:.6g}, keras "
                f"{ref[worst]:.6g}); route {route}"
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(blob)
        write_metadata(out_meta, **fields)
    return ConversionReport(
        tflite_path=out,
        metadata_path=out_meta,
        route=route,
        max_abs_err=max_err,
        n_checked=len(windows),
        tflite_bytes=len(blob),
        seconds=time.perf_counter() - t0,
        check_source=source,
        ops=ops,
        failed_routes=failed,
    )


def check_windows_for(model_dir: Path, data: Path | None, seed: int = 12345,
                      count: int = 1000) -> np.ndarray:
    """Raw windows for the conversion check: `count` windows spread evenly over the recording
    `data`, or over fresh expert episodes (unseen in training) when no dataset is given."""
    from dodge_lstm.core.dataset import Recording, record_expert
    from dodge_lstm.core.windows import make_windows

    _, meta_path = resolve_model(model_dir)
    n = int(read_metadata(meta_path)["timesteps"])
    rec = Recording.load(data) if data else record_expert(16, seed=seed, episode_s=10.0)
    w = make_windows(rec.features, rec.commands, rec.episode, n)
    pick = np.linspace(0, len(w) - 1, min(count, len(w))).astype(int)
    return w.x[pick]
