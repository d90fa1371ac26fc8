"""Tests for training: episode split, metadata contract, model, real training."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from dodge_lstm.core.split import holdout_groups
from dodge_lstm.learning.train_config import TrainConfig
from dodge_lstm.learning.training import default_feature_names
from dodge_lstm.runtime.model_metadata import (
    METADATA_KEYS,
    MODEL_FORMAT,
    metadata_problems,
    write_metadata,
)

REPO = Path(__file__).resolve().parents[2]


def expert_windows(
    episodes: int, timesteps: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Real windows: an arena-expert recording cut by `windows.make_windows`.

    Returns normalized windows, labels [W, 1], episode ids, and the mean/std used.
    """
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.core.windows import make_windows

    rec = record_expert(episodes, seed=seed, episode_s=20.0)
    mean, std = rec.normalization()
    w = make_windows(rec.features, rec.commands, rec.episode, timesteps)
    return (w.x - mean) / std, w.y, w.episode, mean, std


def valid_metadata_fields() -> dict:
    return {
        "timesteps": 5,
        "units": 15,
        "num_features": 8,
        "feature_names": default_feature_names(8),
        "feature_mean": np.linspace(-1, 1, 8, dtype=np.float32),
        "feature_std": np.full(8, 2.0, dtype=np.float32),
        "speed_limit": 1.0,
        "dataset_sha256": "ab" * 32,
        "train_loss": 0.01,
        "eval_loss": 0.02,
        "seed": 3,
    }


# --- metadata ----------------------------------------------------------------------------------


def test_write_metadata_matches_contract(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "model.json"
    meta = write_metadata(path, **valid_metadata_fields())
    on_disk = json.loads(path.read_text())
    assert on_disk == meta
    assert set(METADATA_KEYS) <= set(on_disk)
    assert on_disk["format"] == MODEL_FORMAT
    assert on_disk["input_shape"] == [1, 5, 8]
    assert on_disk["feature_mean"] == pytest.approx(np.linspace(-1, 1, 8).tolist(), abs=1e-6)
    assert isinstance(on_disk["package_version"], str)
    assert metadata_problems(on_disk) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"feature_std": [1.0] * 7 + [0.0]}, "feature_std must be > 0"),
        ({"feature_mean": [0.0] * 5}, "feature_mean must be a list of num_features=8"),
        ({"timesteps": 0}, "timesteps must be a positive integer"),
        ({"input_shape": [1, 4, 8]}, "input_shape"),
        ({"speed_limit": -1.0}, "speed_limit"),
        ({"format": "dodge_lstm.model/0"}, "format"),
    ],
)
def test_write_metadata_refuses_invalid(tmp_path: Path, change: dict, problem: str) -> None:
    fields = valid_metadata_fields() | change
    with pytest.raises(ValueError, match=problem):
        write_metadata(tmp_path / "m.json", **fields)
    assert not (tmp_path / "m.json").exists()


def test_importing_training_does_not_import_tensorflow() -> None:
    code = (
        "import sys, dodge_lstm.learning.training, dodge_lstm.learning.conversion\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


# --- model and training (TensorFlow) -----------------------------------------------------------


@pytest.mark.tensorflow
def test_build_model_is_bounded_and_unroll_agnostic() -> None:
    pytest.importorskip("tensorflow")
    from dodge_lstm.learning.training import build_model

    model = build_model(timesteps=4, units=6, speed_limit=0.7)
    assert model.input_shape == (None, 4, 8)
    assert model.output_shape == (None, 1)
    assert [layer.name for layer in model.layers[1:]] == ["lstm", "command", "speed_limit"]
    model.set_weights([w * 50.0 for w in model.get_weights()])  # saturate the output
    x = np.random.default_rng(1).normal(scale=10.0, size=(64, 4, 8)).astype(np.float32)
    y = model.predict(x, verbose=0)
    assert np.all(np.abs(y) <= 0.7 + 1e-6)
    assert np.abs(y).max() > 0.69  # the bound is reached, not just respected
    unrolled = build_model(timesteps=4, units=6, speed_limit=0.7, batch_size=1, unroll=True)
    assert unrolled.input_shape == (1, 4, 8)
    unrolled.set_weights(model.get_weights())
    y1 = np.concatenate([unrolled.predict(x[i : i + 1], verbose=0) for i in range(4)])
    np.testing.assert_allclose(y1, y[:4], atol=1e-5)


@pytest.mark.tensorflow
def test_train_reduces_loss_and_writes_artefacts(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from dodge_lstm.learning.train_config import TrainConfig
    from dodge_lstm.learning.training import train

    x, y, episodes, mean, std = expert_windows(episodes=32, timesteps=5, seed=0)
    eval_mask = holdout_groups(episodes, 0.25, seed=0)
    train_mask = ~eval_mask
    # MSE of the best constant: what a model that ignores its input would score.
    baseline = float(np.mean((y[eval_mask] - y[train_mask].mean()) ** 2))
    cfg = TrainConfig(timesteps=5, units=15, epochs=8, batch_size=64, seed=1, patience=3,
                      eval_fraction=0.25, learning_rate=5e-3)
    result = train(
        x[train_mask],
        y[train_mask],
        x[eval_mask],
        y[eval_mask],
        config=cfg,
        speed_limit=1.0,
        out_dir=tmp_path / "run",
        progress=False,
        metadata={"feature_mean": mean, "feature_std": std, "dataset_sha256": "cd" * 32},
    )
    hist = result.history
    assert len(hist["loss"]) == len(hist["val_loss"]) == result.epochs_run <= 8
    assert hist["val_loss"][-1] < hist["val_loss"][0]
    assert result.eval_loss < 0.5 * baseline, (result.eval_loss, baseline)
    # Best weights restored: the saved model scores the best epoch's eval loss.
    assert result.eval_loss == pytest.approx(min(hist["val_loss"]), rel=1e-4)
    assert result.best_epoch == int(np.argmin(hist["val_loss"])) + 1

    import keras

    saved = keras.models.load_model(result.model_path, compile=False)
    pred = saved.predict(x[eval_mask], verbose=0)
    mse = float(np.mean((pred - y[eval_mask]) ** 2))
    assert mse == pytest.approx(result.eval_loss, rel=1e-4)

    with result.history_path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == list(range(1, result.epochs_run + 1))
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], hist["val_loss"])
    assert result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    meta = json.loads(result.metadata_path.read_text())
    assert metadata_problems(meta) == []
    assert meta["timesteps"] == 5 and meta["units"] == 15 and meta["seed"] == 1
    assert meta["feature_mean"] == mean.tolist()
    assert meta["dataset_sha256"] == "cd" * 32
    assert meta["eval_loss"] == pytest.approx(result.eval_loss)
    assert meta["train_loss"] == pytest.approx(result.train_loss)
    assert meta["train_config"] == asdict(cfg)


def tiny_recording(tmp_path: Path) -> Path:
    from dodge_lstm.core.dataset import record_expert

    return record_expert(8, seed=2, episode_s=6.0).save(tmp_path / "tiny.npz")


@pytest.mark.tensorflow
def test_train_dataset_applies_and_records_the_whole_config(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import keras

    from dodge_lstm.core.dataset import Recording
    from dodge_lstm.core.split import split_windows
    from dodge_lstm.core.windows import make_windows
    from dodge_lstm.learning.training import train_dataset

    data = tiny_recording(tmp_path)
    cfg = TrainConfig(timesteps=3, units=4, epochs=3, batch_size=32, patience=2,
                      eval_fraction=0.25, learning_rate=5e-3, seed=4)
    res = train_dataset(data, cfg, out_dir=tmp_path / "run", progress=False)
    meta = json.loads(res.metadata_path.read_text())
    assert metadata_problems(meta) == []
    assert meta["train_config"] == asdict(cfg) != asdict(TrainConfig())
    assert meta["train_config"]["patience"] == 2 and meta["train_config"]["learning_rate"] == 5e-3
    # Applied, not just recorded: the optimizer's step and the split's fraction and seed.
    model = keras.models.load_model(res.model_path)
    assert float(model.optimizer.learning_rate) == pytest.approx(5e-3)
    rec = Recording.load(data)
    w = make_windows(rec.features, rec.commands, rec.episode, 3)
    split = split_windows(rec.episode, rec.origin, w.start, 3, eval_fraction=0.25,
                          segment_rows=300, seed=4)
    assert meta["eval_windows"] == int(split.eval_windows.sum()) > 0
    # Normalized with the training rows' statistics, not all rows'.
    mean, _ = rec.normalization(~split.eval_rows)
    np.testing.assert_allclose(meta["feature_mean"], mean)
    assert not np.allclose(meta["feature_mean"], rec.normalization()[0])
    assert res.epochs_run <= 3


@pytest.mark.tensorflow
def test_train_cli_passes_every_option_through(tmp_path: Path, capsys) -> None:
    pytest.importorskip("tensorflow")
    from dodge_lstm.cli import main as cli_main

    data = tiny_recording(tmp_path)
    out = tmp_path / "run"
    assert cli_main(["train", "--data", str(data), "--out", str(out), "--timesteps", "3",
                     "--units", "4", "--epochs", "2", "--batch-size", "32", "--patience", "1",
                     "--eval-fraction", "0", "--segment-seconds", "2.5", "--learning-rate",
                     "0.005", "--seed", "4"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["train_config"] == asdict(TrainConfig(
        timesteps=3, units=4, epochs=2, batch_size=32, patience=1, eval_fraction=0.0,
        segment_seconds=2.5, learning_rate=5e-3, seed=4))
    assert meta["eval_windows"] == 0 and meta["eval_loss"] is None  # no eval split at all
    assert "eval loss n/a" in capsys.readouterr().out


@pytest.mark.tensorflow
def test_one_long_episode_trains_with_no_flags(tmp_path: Path, capsys) -> None:
    """One bag is one episode: before segmenting, `train` refused it ("need at least 2
    episodes"). Default flags now hold out whole 30 s segments of it, with its mirror twin."""
    pytest.importorskip("tensorflow")
    from dodge_lstm.cli import main as cli_main
    from dodge_lstm.core.dataset import Recording, record_expert

    long = record_expert(1, seed=3, episode_s=150.0).mirrored()  # like one 2.5-min bag
    assert len(np.unique(long.episode)) == 2 and len(np.unique(long.origin)) == 1
    data = long.save(tmp_path / "one_bag.npz")
    out = tmp_path / "run"
    assert cli_main(["train", "--data", str(data), "--out", str(out), "--epochs", "2",
                     "--units", "4"]) == 0
    meta = json.loads((out / "model.json").read_text())
    assert meta["split_groups"] == 5  # 150 s in 30 s segments, each with its twin
    assert meta["eval_windows"] > 0 and meta["eval_loss"] is not None
    assert Recording.load(data).origin.tolist() == long.origin.tolist()  # saved with twins
