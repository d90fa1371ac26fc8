"""Tests for dodge_lstm.runtime.tflite_policy (TFLitePolicy) and dodge_lstm.runtime.lstm_numpy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dodge_lstm.learning.training import default_feature_names
from dodge_lstm.runtime.lstm_numpy import LSTMWeights, numpy_forward
from dodge_lstm.runtime.model_metadata import (
    ModelError,
    metadata_path_for,
    read_metadata,
    write_metadata,
)
from dodge_lstm.runtime.tflite_policy import InvalidWindowError, TFLitePolicy

REPO = Path(__file__).resolve().parents[2]
F = 8
MEAN = np.array([0.5, 3.0, -1.0, 0.0, 1.0, 4.0, -0.5, 0.2], dtype=np.float32)
STD = np.array([1.5, 2.0, 1.0, 0.7, 1.5, 2.0, 1.0, 0.7], dtype=np.float32)
SPEED = 0.6


def meta_fields(timesteps: int, units: int) -> dict:
    return {
        "timesteps": timesteps,
        "units": units,
        "num_features": F,
        "feature_names": default_feature_names(F),
        "feature_mean": MEAN,
        "feature_std": STD,
        "speed_limit": SPEED,
        "dataset_sha256": None,
        "train_loss": 0.1,
        "eval_loss": 0.1,
        "seed": 0,
    }


def raw_windows(n: int, timesteps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (MEAN + STD * rng.standard_normal((n, timesteps, F))).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Random-weight t5/u15 and t8/u15 models converted side by side into one models dir."""
    pytest.importorskip("tensorflow")
    import keras

    from dodge_lstm.learning.conversion import convert
    from dodge_lstm.learning.training import build_model

    root = tmp_path_factory.mktemp("rt")
    out: dict = {"dir": root / "models"}
    for t in (5, 8):
        keras.utils.set_random_seed(t)
        model = build_model(t, 15, F, SPEED)
        # Larger-than-init weights so outputs span the range and the clip bound is exercised.
        model.set_weights([w * 3.0 for w in model.get_weights()])
        run = root / f"run_t{t}"
        run.mkdir()
        model.save(run / "model.keras")
        write_metadata(run / "model.json", **meta_fields(t, 15))
        tfl = out["dir"] / f"lstm_t{t}_u15.tflite"
        convert(run, tfl, check_windows=raw_windows(100, t, seed=t))
        out[t] = {"tflite": tfl, "weights": LSTMWeights.from_keras(model)}
    return out


# --- failures that need no TensorFlow ------------------------------------------------------


def test_missing_model_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.tflite"
    with pytest.raises(ModelError, match=r"nope\.tflite does not exist.*`model` parameter"):
        TFLitePolicy(missing)


def test_missing_metadata(tmp_path: Path) -> None:
    model = tmp_path / "lstm.tflite"
    model.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match=r"lstm\.json .*is missing.*re-run conversion"):
        TFLitePolicy(model)


def test_corrupt_model_file(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"this is not a flatbuffer at all" * 10)
    write_metadata(metadata_path_for(model), **meta_fields(5, 15))
    with pytest.raises(ModelError, match=r"model\.tflite cannot be loaded.*corrupt"):
        TFLitePolicy(model)


def test_empty_model_file(tmp_path: Path) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"")
    write_metadata(metadata_path_for(model), **meta_fields(5, 15))
    with pytest.raises(ModelError, match="corrupt"):
        TFLitePolicy(model)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"input_shape": [1, 8, 8]}, "input_shape"),
        ({"feature_std": [1.0] * 7}, "feature_std"),
        ({"feature_std": [1.0] * 7 + [-2.0]}, "feature_std must be > 0"),
        ({"format": "something/else"}, "format"),
        ({"speed_limit": "fast"}, "speed_limit"),
    ],
)
def test_inconsistent_metadata(tmp_path: Path, edit: dict, problem: str) -> None:
    model = tmp_path / "model.tflite"
    model.write_bytes(b"\x00" * 64)
    meta = write_metadata(metadata_path_for(model), **meta_fields(5, 15))
    meta.update(edit)
    metadata_path_for(model).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=rf"(?i)inconsistent: .*{problem}.*re-run conversion"):
        TFLitePolicy(model)


def test_unreadable_metadata(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text("{not json")
    with pytest.raises(ModelError, match="not readable JSON"):
        read_metadata(path)


# --- real converted models (TensorFlow needed to make them) ----------------------------------


@pytest.mark.tensorflow
def test_policy_loads_and_matches_numpy_forward(models: dict) -> None:
    policy = TFLitePolicy(models[5]["tflite"], timesteps=5, num_features=F)
    assert (policy.timesteps, policy.units, policy.num_features) == (5, 15, F)
    assert policy.speed_limit == SPEED and policy.backend == "ai_edge_litert"
    raw = raw_windows(300, 5, seed=11)
    got = policy.predict_many(raw)
    ref = numpy_forward(models[5]["weights"], (raw - MEAN) / STD)
    np.testing.assert_allclose(got, np.clip(ref, -SPEED, SPEED), atol=1e-5)
    assert np.ptp(got) > 0.2  # outputs vary: the check is not between two constants
    assert got.dtype == np.float64 and isinstance(policy(raw[0]), float)
    np.testing.assert_allclose(numpy_forward(models[5]["weights"], (raw[0] - MEAN) / STD), ref[0])


@pytest.mark.tensorflow
def test_output_is_bounded_by_speed_limit(models: dict) -> None:
    policy = TFLitePolicy(models[8]["tflite"])
    extreme = raw_windows(200, 8, seed=12) * 50.0
    cmds = policy.predict_many(extreme)
    assert np.all(np.abs(cmds) <= SPEED)
    assert np.abs(cmds).max() > 0.95 * SPEED


@pytest.mark.tensorflow
def test_rejects_wrong_timesteps_and_suggests_sibling(models: dict) -> None:
    with pytest.raises(ModelError) as err:
        TFLitePolicy(models[5]["tflite"], timesteps=8)
    msg = str(err.value)
    assert "lstm_t5_u15.tflite has timesteps 5 but timesteps=8 was requested" in msg
    assert "set timesteps to 5 (`--timesteps` on the command line, the `timesteps` parameter" \
        in msg
    assert "lstm_t8_u15.tflite" in msg
    with pytest.raises(ModelError, match="timesteps=3"):
        TFLitePolicy(models[5]["tflite"], timesteps=3)
    with pytest.raises(ModelError, match="num_features=12"):
        TFLitePolicy(models[5]["tflite"], num_features=12)


@pytest.mark.tensorflow
def test_rejects_metadata_of_another_model(models: dict, tmp_path: Path) -> None:
    model = tmp_path / "mixed.tflite"
    shutil.copy(models[5]["tflite"], model)
    shutil.copy(metadata_path_for(models[8]["tflite"]), metadata_path_for(model))
    with pytest.raises(ModelError, match=r"input\(s\) \[\(\[1, 5, 8\].*says \[1, 8, 8\]"):
        TFLitePolicy(model)


@pytest.mark.tensorflow
def test_rejects_bad_windows(models: dict) -> None:
    policy = TFLitePolicy(models[5]["tflite"])
    good = raw_windows(1, 5, seed=0)[0]
    before = policy(good)
    for bad_value in (np.nan, np.inf, -np.inf):
        bad = good.copy()
        bad[2, 3] = bad_value
        with pytest.raises(ValueError, match="NaN or Inf"):
            policy(bad)
    with pytest.raises(InvalidWindowError, match="shape"):
        policy(good[:4])
    with pytest.raises(InvalidWindowError, match="shape"):
        policy(good[0])  # a single row must not broadcast
    assert policy(good) == before  # rejection left no state behind
    assert policy(good.astype(np.float64)) == pytest.approx(before, abs=1e-7)


@pytest.mark.tensorflow
def test_runtime_does_not_import_tensorflow(models: dict) -> None:
    code = (
        "import sys, json, numpy as np\n"
        "from dodge_lstm.runtime.tflite_policy import TFLitePolicy\n"
        f"p = TFLitePolicy({str(models[5]['tflite'])!r}, timesteps=5)\n"
        "v = p(np.zeros((5, 8), np.float32))\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "print(json.dumps({'heavy': heavy, 'backend': p.backend, 'v': v,\n"
        "                  'litert': 'ai_edge_litert' in sys.modules}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    assert result["backend"] == "ai_edge_litert" and result["litert"]
    assert result["v"] == pytest.approx(TFLitePolicy(models[5]["tflite"])(np.zeros((5, 8))))


@pytest.mark.tensorflow
def test_call_latency(models: dict) -> None:
    policy = TFLitePolicy(models[5]["tflite"])
    window = raw_windows(1, 5, seed=0)[0]
    medians = []
    for _ in range(3):  # best of 3 medians: robust to a busy neighbour on a 2-core box
        ts = np.empty(2000)
        for k in range(len(ts)):
            t0 = time.perf_counter_ns()
            policy(window)
            ts[k] = time.perf_counter_ns() - t0
        medians.append(np.median(ts) / 1e3)
    assert min(medians) <= 20.0, f"median call {min(medians):.1f} us > 20 us"
