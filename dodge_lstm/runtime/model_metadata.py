"""The model metadata contract: `model.json` beside every `.tflite` (docs/DESIGN.md).

Conversion writes it, the runtime and the policy node read it; both sides validate against
`metadata_problems`, so a model whose metadata disagrees with it never loads. TensorFlow-free.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dodge_lstm import __version__
from dodge_lstm.core.json_io import to_jsonable, write_json

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


REPORTED_SCENARIO = "default"
"""The scenario whose reported-seed score is `scores["reported"]`, the model's headline."""


def file_score(scores: dict[str, Any], scenario_key: str, entry: dict[str, Any]) -> None:
    """Put one reported-seed result into a model's `scores`: the `default` scenario's is
    `reported`, every other (a preset, or one with overrides, e.g. `fast (speed_max=9.0)`)
    goes to `scenarios[key]`. `eval --write-scores` and `sweep --export-dir` both file here."""
    if scenario_key == REPORTED_SCENARIO:
        scores["reported"] = entry
    else:
        scores.setdefault("scenarios", {})[scenario_key] = entry


def write_metadata(path: str | Path, **fields: Any) -> dict[str, Any]:
    """Write the `dodge_lstm.model/1` JSON (DESIGN.md) and return it; raises ValueError if invalid.

    `format` and `package_version` are filled in, `input_shape` defaults to
    [1, timesteps, num_features]. Extra keys are kept (readers ignore unknown keys).
    """
    meta: dict[str, Any] = {"format": MODEL_FORMAT}
    meta.update({k: to_jsonable(v) for k, v in fields.items()})
    meta.setdefault("package_version", __version__)
    if "input_shape" not in meta and "timesteps" in meta and "num_features" in meta:
        meta["input_shape"] = [1, meta["timesteps"], meta["num_features"]]
    for key in ("train_loss", "eval_loss", "speed_limit"):
        if isinstance(meta.get(key), int) and not isinstance(meta.get(key), bool):
            meta[key] = float(meta[key])
    problems = metadata_problems(meta)
    if problems:
        raise ValueError(f"refusing to write invalid model metadata {path}: {'; '.join(problems)}")
    write_json(path, meta)  # atomic: a reader never sees half a file
    return meta


