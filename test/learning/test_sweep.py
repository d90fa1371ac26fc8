"""A tiny real sweep: spawned workers train, convert and evaluate; one pair fails on purpose."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from dodge_lstm.learning.sweep import lstm_parameters, pair_name
from dodge_lstm.learning.sweep_report import spearman, write_outputs
from dodge_lstm.learning.train_config import TrainConfig


def test_parameter_count_matches_the_formula() -> None:
    # 4 gates x (input + recurrent + bias) + Dense(units -> 1).
    assert lstm_parameters(5, 15, 8) == 4 * 15 * (8 + 15 + 1) + 15 + 1 == 1456
    assert pair_name(5, 15) == "t5_u15"


@pytest.mark.tensorflow
def test_tiny_sweep_writes_everything_and_survives_a_failing_pair(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.learning.sweep import run_sweep

    data = record_expert(8, seed=1, episode_s=6).save(tmp_path / "tiny.npz")  # 60-row episodes
    out = tmp_path / "sweep"
    # Every field but the grid's differs from its default, so a dropped field shows up below.
    cfg = TrainConfig(epochs=2, batch_size=64, patience=3, eval_fraction=0.25,
                      learning_rate=5e-3, seed=3)
    rows = run_sweep(data=data, timesteps=[2, 3, 100], units=[4], out_dir=out, config=cfg,
                     workers=2, eval_balls=100, progress=False)

    for name in ("results.csv", "results.md", "loss_curves.png", "dodge_heatmap.png",
                 "sweep.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name

    assert [(r["timesteps"], r["units"]) for r in rows] == [(2, 4), (3, 4), (100, 4)]
    good, bad = rows[:2], rows[2]
    for r in good:
        assert r["error"] is None, r["error"]
        for key in ("train_loss", "eval_loss", "history_min_loss", "history_min_val_loss"):
            assert math.isfinite(r[key]) and r[key] >= 0, (key, r[key])
        assert 0.0 <= r["threat_dodge_rate"] <= 1.0 and 0.0 <= r["dodge_rate"] <= 1.0
        lo, hi = r["threat_dodge_ci95"]
        assert lo <= r["threat_dodge_rate"] <= hi
        assert r["balls"] == 100 and r["arenas"] == 64 and r["epochs_run"] == 2
        assert r["parameters"] == lstm_parameters(r["timesteps"], 4, 8)
        assert (out / pair_name(r["timesteps"], 4) / "model.tflite").is_file()
    # 100 timesteps > 60-row episodes: train_dataset has no windows and raises ValueError.
    assert bad["error"] and "ValueError" in bad["error"] and bad["train_loss"] is None
    assert bad["threat_dodge_rate"] is None

    with (out / "results.csv").open(newline="") as fh:
        csv_rows = list(csv.DictReader(fh))
    assert len(csv_rows) == 3 and csv_rows[2]["error"].startswith("train: ValueError")

    md = (out / "results.md").read_text()
    table = [ln for ln in md.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert [ln.split("|")[1:3] for ln in table] == [[" 2 ", " 4 "], [" 3 ", " 4 "],
                                                     [" 100 ", " 4 "]]
    assert "expert" in md and "stationary" in md and "%" in table[0]

    doc = json.loads((out / "sweep.json").read_text())
    assert doc["complete"] and doc["settings"]["arenas"] == 64 and len(doc["rows"]) == 3
    assert doc["baselines"]["expert"]["threat_dodge_rate"] > 0.9
    assert doc["baselines"]["stationary"]["threat_dodge_rate"] == 0.0
    assert doc["summary"]["models"] == 2 and doc["summary"]["errors"] == 1

    # The settings record the whole train config actually passed (the grid for its two axes),
    # and every pair's model.json the config it trained with.
    settings = doc["settings"]
    assert {f.name: settings[f.name] for f in fields(TrainConfig)} == asdict(cfg) | {
        "timesteps": [2, 3, 100], "units": [4]}
    for r in good:
        meta = json.loads((out / pair_name(r["timesteps"], 4) / "model.json").read_text())
        assert meta["train_config"] == asdict(cfg.with_(timesteps=r["timesteps"], units=4))
    assert "patience 3" in md and "25% by-episode" in md and "seed 3." in md


def test_spearman_ranks_with_ties() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2], [1, 2]) is None  # too few points
    assert spearman([1, 1, 1], [1, 2, 3]) is None  # a constant ranking says nothing


def test_report_from_rows_alone(tmp_path: Path) -> None:
    """sweep_report + viz.sweep_plots rebuild every output from rows, without TensorFlow."""
    cfg = TrainConfig(epochs=3)
    settings = {
        "data": "d.npz", "data_sha256": "ab" * 32, "data_rows": 10, "num_features": 8,
        **asdict(cfg), "timesteps": [1, 2], "units": [4], "eval_balls": 10, "eval_seed": 7,
        "arenas": 64, "workers": 1, "threads_per_worker": 1, "wall_seconds": 60.0,
    }
    base = {"units": 4, "parameters": 1, "arenas": 64, "error": None, "pair_seconds": 1.0}
    rows = [
        base | {"timesteps": 1, "train_loss": 0.1, "eval_loss": 0.2, "history_min_loss": 0.1,
                "history_min_val_loss": 0.2, "best_epoch": 2, "epochs_run": 3,
                "train_seconds": 5.0, "threat_dodge_rate": 0.5, "threat_dodge_ci95": [0.4, 0.6],
                "dodge_rate": 0.7, "hits": 3, "balls": 10,
                "history": {"loss": [0.3, 0.1, 0.1], "val_loss": [0.4, 0.2, 0.2]}},
        base | {"timesteps": 2, "train_loss": None, "eval_loss": None,
                "threat_dodge_rate": None, "threat_dodge_ci95": None, "history": None,
                "error": "train: ValueError: no windows"},
    ]
    write_outputs(tmp_path, rows, settings, {}, complete=True)
    for name in ("results.csv", "results.md", "loss_curves.png", "dodge_heatmap.png",
                 "sweep.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["settings"]["epochs"] == 3 and doc["summary"]["errors"] == 1
    assert "up to 3 epochs" in (tmp_path / "results.md").read_text()
    assert not list(tmp_path.glob("*.tmp"))  # written through temp files, all renamed
