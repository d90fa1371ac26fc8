"""A tiny real sweep: spawned workers train, convert and evaluate; one pair fails on purpose."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from dodge_lstm.learning.sweep import lstm_parameters, pair_name


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
    rows = run_sweep(data=data, timesteps=[2, 3, 100], units=[4], out_dir=out, workers=2,
                     epochs=2, eval_balls=100, progress=False)

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
