"""A tiny real sweep on a local Ray; seed selection, tables and plots from rows alone."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, fields
from pathlib import Path

import pytest

from dodge_lstm.learning.sweep import lstm_parameters, pair_name, trial_name
from dodge_lstm.learning.sweep_report import spearman, write_outputs
from dodge_lstm.learning.train_config import TrainConfig


def test_parameter_count_matches_the_formula() -> None:
    # 4 gates x (input + recurrent + bias) + Dense(units -> 1).
    assert lstm_parameters(5, 15, 8) == 4 * 15 * (8 + 15 + 1) + 15 + 1 == 1456
    assert pair_name(5, 15) == "t5_u15"


@pytest.mark.tensorflow
def test_tiny_ray_sweep_scores_trials_closed_loop_and_exports(tmp_path: Path) -> None:
    """Two real Ray Tune trials: artefacts under --out, objective = closed-loop dodging."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("ray.tune")
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.core.evaluation import evaluate, evaluate_scenario
    from dodge_lstm.core.scenarios import SCENARIOS
    from dodge_lstm.learning.sweep import EXPERIMENT, run_sweep
    from dodge_lstm.runtime.learned_policy import LearnedPolicy, make_policy
    from dodge_lstm.runtime.model_metadata import read_metadata

    data = record_expert(8, seed=1, episode_s=6).save(tmp_path / "tiny.npz")  # 60-row episodes
    out, export = tmp_path / "sweep", tmp_path / "models"
    # Every field but the grid's differs from its default, so a dropped field shows up below.
    cfg = TrainConfig(epochs=2, batch_size=64, patience=3, eval_fraction=0.25,
                      learning_rate=5e-3)
    balls = 30
    # Every evaluation throws balls as the sweep's scenario says (here `fast` with an override,
    # so its scores are filed under "fast (speed_max=6.5)", not as the 2020 setting's).
    fast = SCENARIOS["fast"].with_overrides(speed_max=6.5)
    rows = run_sweep(data=data, timesteps=[1, 2], units=[2], seeds=[3], out_dir=out,
                     config=cfg, eval_balls=balls, selection_seed=1001, eval_seed=7,
                     num_cpus=2, export_dir=export, scenario=fast, progress=False)

    for name in ("results.csv", "trials.csv", "results.md", "loss_curves.png",
                 "dodge_heatmap.png", "sweep.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["complete"] and doc["settings"]["ray_version"]
    assert [(r["timesteps"], r["units"], r["seed"]) for r in doc["rows"]] == [(1, 2, 3),
                                                                             (2, 2, 3)]
    assert [(r["timesteps"], r["seed"]) for r in rows] == [(1, 3), (2, 3)]
    assert len(doc["trials"]) == 2
    # Both ran as Ray trials: Tune's own files in a folder per trial under --out.
    for r in doc["trials"]:
        trial_dir = out / EXPERIMENT / trial_name(r["timesteps"], 2, 3)
        assert Path(r["trial_dir"]) == trial_dir, r["trial_dir"]
        assert (trial_dir / "result.json").is_file() and (trial_dir / "params.json").is_file()
        assert Path(r["checkpoint"]).parent == trial_dir
        assert r["error"] is None, r["error"]
    for r in rows:
        assert r["error"] is None, r["error"]
        assert r["seeds"] == [3] and r["seeds_failed"] == []
        for key in ("train_loss", "eval_loss", "history_min_loss", "history_min_val_loss"):
            assert math.isfinite(r[key]) and r[key] >= 0, (key, r[key])
        assert r["epochs_run"] == 2 and r["parameters"] == lstm_parameters(r["timesteps"], 2, 8)
        assert r["balls"] == balls and r["arenas"] == 64
        lo, hi = r["threat_dodge_ci95"]
        assert 0.0 <= lo <= r["threat_dodge_rate"] <= hi <= 1.0
        meta = read_metadata(Path(r["tflite"]).with_suffix(".json"))
        assert meta["train_config"] == asdict(cfg.with_(timesteps=r["timesteps"], units=2,
                                                        seed=3))

    # The objective Tune recorded is the closed-loop threat dodge rate of the converted model
    # on the selection seed and the sweep's scenario (not a loss, not the default scenario): a
    # fresh evaluation of the exported file repeats it.
    r1 = rows[0]
    tflite = export / "lstm_t1_u2.tflite"
    fresh = evaluate_scenario(LearnedPolicy(tflite), fast, balls, seed=1001, arenas=64)
    default = evaluate(LearnedPolicy(tflite), balls, seed=1001, arenas=64)
    assert (default.threat_balls, default.hits) != (fresh.threat_balls, fresh.hits)
    tune_result = json.loads((out / EXPERIMENT / "t1_u2_s3" / "result.json")
                             .read_text().splitlines()[-1])
    assert tune_result["threat_dodge_rate"] == fresh.threat_dodge_rate
    assert r1["selection_threat_dodge_rate"] == fresh.threat_dodge_rate
    assert r1["selection_threat_dodge_ci95"] == list(fresh.threat_dodge_ci95)
    assert tune_result["loss"] == r1["train_loss"] != fresh.threat_dodge_rate
    t1 = doc["trials"][0]
    assert (t1["threat_balls"], t1["threat_hits"]) == (fresh.threat_balls, fresh.threat_hits)
    # ... and the reported score is the same model on the untouched seed, whose balls differ.
    reported = evaluate_scenario(LearnedPolicy(tflite), fast, balls, seed=7, arenas=64)
    assert r1["threat_dodge_rate"] == reported.threat_dodge_rate
    assert (r1["threat_balls"], r1["hits"]) == (reported.threat_balls, reported.hits)
    assert (fresh.threat_balls, fresh.hits) != (reported.threat_balls, reported.hits)

    # The exported model carries its scores, equal to sweep.json's.
    meta = read_metadata(tflite.with_suffix(".json"), model_path=tflite)
    scores = meta["scores"]
    assert scores["selection"] == {"seed": 1001, "balls": balls, "scenario": fast.key,
                                   "sensing": "truth",
                                   "threat_dodge_rate": r1["selection_threat_dodge_rate"],
                                   "threat_dodge_ci95": r1["selection_threat_dodge_ci95"]}
    assert "reported" not in scores  # that key is the default scenario's, not measured here
    mine = scores["scenarios"]["fast (speed_max=6.5)"]
    assert mine["seed"] == 7 and mine["balls"] == balls
    assert mine["threat_dodge_rate"] == doc["rows"][0]["threat_dodge_rate"]
    assert mine["threat_dodge_ci95"] == doc["rows"][0]["threat_dodge_ci95"]
    assert scores["seed"] == 3 and scores["seeds_tried"] == [3]
    assert scores["train_config"] == asdict(cfg) | {"timesteps": [1, 2], "units": [2],
                                                    "seed": [3]}
    assert (export / "lstm_t2_u2.tflite").is_file()

    # The settings record the whole train config passed (the grid for its three axes).
    settings = doc["settings"]
    assert {f.name: settings[f.name] for f in fields(TrainConfig)} == scores["train_config"]
    md = (out / "results.md").read_text()
    assert "patience 3" in md and "25% eval split of 30 s segments" in md and "seeds 3." in md
    assert "expert" in md and "stationary" in md and "`fast (speed_max=6.5)` scenario" in md
    expert = evaluate_scenario(make_policy("expert"), fast, balls, seed=7, arenas=64)
    assert doc["baselines"]["expert"]["threat_balls"] == expert.threat_balls
    with (out / "trials.csv").open(newline="") as fh:
        assert [r["timesteps"] for r in csv.DictReader(fh)] == ["1", "2"]


@pytest.mark.tensorflow
def test_a_failing_trial_reports_its_error_and_no_objective(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainable itself (outside Ray): a stage that raises becomes `error` + NaN objective."""
    pytest.importorskip("tensorflow")
    tune = pytest.importorskip("ray.tune")
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.learning import sweep_trial
    from dodge_lstm.learning.sweep_selection import trial_row

    # In a Ray worker the trial pins TF's threads; here that would outlive the test.
    monkeypatch.setattr(sweep_trial, "limit_threads", lambda cpus: None)
    reported: list[tuple[dict, dict]] = []

    def report(metrics: dict, *, checkpoint: object) -> None:
        row = trial_row({"timesteps": 100, "units": 2, "seed": 0}, metrics,
                        checkpoint=checkpoint.path, trial_dir=None, error=None,
                        num_features=8)
        reported.append((metrics, row))

    monkeypatch.setattr(tune, "report", report)
    data = record_expert(2, seed=1, episode_s=6).save(tmp_path / "tiny.npz")  # 60-row episodes
    job = {"data": str(data), "config": asdict(TrainConfig(epochs=1)), "cpus_per_trial": 1,
           "eval_balls": 10, "selection_seed": 1001}
    sweep_trial.run_trial({"timesteps": 100, "units": 2, "seed": 0}, job)
    [(metrics, row)] = reported
    assert metrics["error"].startswith("train: ValueError") and "timesteps=100" in metrics["error"]
    assert math.isnan(metrics["threat_dodge_rate"])  # Tune needs the metric, even when failed
    assert row["selection_threat_dodge_rate"] is None and row["error"] == metrics["error"]


def test_ray_session_refuses_num_cpus_for_a_cluster() -> None:
    pytest.importorskip("ray")
    from dodge_lstm.learning.ray_cluster import ray_session

    with pytest.raises(ValueError, match="num_cpus"), ray_session("auto", num_cpus=2):
        pass


def _trial(t: int, seed: int, rate: float | None, error: str | None = None) -> dict:
    return {"timesteps": t, "units": 4, "seed": seed, "parameters": 1,
            "selection_threat_dodge_rate": rate, "error": error, "history": None}


def test_each_pair_keeps_its_best_seed_by_selection_score() -> None:
    from dodge_lstm.learning.sweep import best_seeds

    trials = [_trial(1, 0, 0.50), _trial(1, 1, 0.80), _trial(1, 2, 0.70),
              _trial(2, 0, 0.60), _trial(2, 1, 0.60),  # a tie keeps the lower seed
              _trial(3, 0, None, "train: ValueError: no windows"), _trial(3, 1, 0.40),
              _trial(4, 0, None, "train: boom"), _trial(4, 1, None, "convert: bang")]
    rows = best_seeds(trials, [1, 2, 3, 4], [4])
    assert [(r["timesteps"], r["seed"]) for r in rows] == [(1, 1), (2, 0), (3, 1), (4, 0)]
    assert rows[0]["selection_threat_dodge_rate"] == 0.80
    assert (rows[0]["selection_min"], rows[0]["selection_max"]) == (0.50, 0.80)
    assert rows[0]["seeds"] == [0, 1, 2] and rows[0]["error"] is None
    assert rows[2]["seeds_failed"] == [0] and rows[2]["error"] is None
    assert rows[3]["error"] == "seed 0: train: boom; seed 1: convert: bang"
    assert rows[3]["selection_min"] is None


def test_seed_list_parses_zero_and_refuses_junk() -> None:
    import argparse

    from dodge_lstm.cli_args import seed_list

    assert seed_list("0,1, 2") == [0, 1, 2]
    for bad in ("", "a", "-1"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_list(bad)


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
        **asdict(cfg), "timesteps": [1, 2], "units": [4], "seed": [0, 1], "eval_balls": 10,
        "eval_seed": 7, "selection_seed": 1001, "arenas": 64, "cpus_per_trial": 1,
        "trials": 4, "ray_version": "x", "cluster_cpus": 2.0, "nodes": 1,
        "wall_seconds": 60.0,
    }
    base = {"units": 4, "parameters": 1, "arenas": 64, "error": None, "seeds": [0, 1],
            "seeds_failed": []}
    rows = [
        base | {"timesteps": 1, "seed": 1, "train_loss": 0.1, "eval_loss": 0.2,
                "history_min_loss": 0.1, "history_min_val_loss": 0.2, "best_epoch": 2,
                "epochs_run": 3, "train_seconds": 5.0, "selection_threat_dodge_rate": 0.55,
                "selection_threat_dodge_ci95": [0.45, 0.65], "selection_min": 0.5,
                "selection_max": 0.55, "threat_dodge_rate": 0.5, "threat_dodge_ci95": [0.4, 0.6],
                "dodge_rate": 0.7, "hits": 3, "balls": 10,
                "history": {"loss": [0.3, 0.1, 0.1], "val_loss": [0.4, 0.2, 0.2]}},
        base | {"timesteps": 2, "seed": 0, "train_loss": None, "eval_loss": None,
                "selection_threat_dodge_rate": None, "selection_threat_dodge_ci95": None,
                "threat_dodge_rate": None, "threat_dodge_ci95": None, "history": None,
                "seeds_failed": [0, 1],
                "error": "seed 0: train: ValueError: no windows; seed 1: train: ValueError"},
    ]
    trials = [{"timesteps": 1, "units": 4, "seed": s, "selection_threat_dodge_rate": v,
               "selection_threat_dodge_ci95": [v - 0.1, v + 0.1], "error": None,
               "history": {"loss": [0.1]}} for s, v in ((0, 0.5), (1, 0.55))]
    write_outputs(tmp_path, rows, settings, {}, complete=True, trials=trials)
    for name in ("results.csv", "trials.csv", "results.md", "loss_curves.png",
                 "dodge_heatmap.png", "sweep.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    doc = json.loads((tmp_path / "sweep.json").read_text())
    assert doc["settings"]["epochs"] == 3 and doc["summary"]["errors"] == 1
    assert len(doc["trials"]) == 2 and "history" not in doc["trials"][0]  # rows carry it
    md = (tmp_path / "results.md").read_text()
    assert "up to 3 epochs" in md and "seeds 0, 1." in md
    assert "| 1 | 4 | 1 | 1 of 2 | 55.0% (45.0%–65.0%) | 50.0%–55.0% |" in md
    with (tmp_path / "results.csv").open(newline="") as fh:
        first = next(csv.DictReader(fh))
    assert first["seeds"] == "0 1" and first["selection_threat_dodge_ci95_low"] == "0.45"
    with (tmp_path / "trials.csv").open(newline="") as fh:
        assert [r["selection_threat_dodge_rate"] for r in csv.DictReader(fh)] == ["0.5", "0.55"]
    assert not list(tmp_path.glob("*.tmp"))  # written through temp files, all renamed


def test_sweep_sensing_reaches_every_evaluation(tmp_path: Path, monkeypatch) -> None:
    """`sweep --sensing realistic`: the flag reaches `run_sweep`, and the reported and baseline
    evaluations see through the detector (their numbers are `eval --sensing`'s, not truth's).
    Plausible bug: the flag parsed and dropped, so a sweep for a robot's detector ranks models
    on ground truth."""
    from dodge_lstm.cli import main as cli_main
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.core.scenarios import SCENARIOS
    from dodge_lstm.core.sensing import PRESETS
    from dodge_lstm.core.tracking import TRACKERS
    from dodge_lstm.learning import sweep
    from dodge_lstm.learning.sweep_scores import evaluate_baselines, report_eval
    from dodge_lstm.resources import default_model
    from dodge_lstm.runtime.learned_policy import LearnedPolicy, make_policy

    seen: dict = {}
    monkeypatch.setattr(sweep, "run_sweep", lambda **kw: seen.update(kw))  # no Ray here
    data = tmp_path / "d.npz"
    data.write_bytes(b"")
    assert cli_main(["sweep", "--data", str(data), "--out", str(tmp_path / "o"),
                     "--sensing", "realistic", "--tracker", "raw"]) == 0
    assert seen["sensing"] == PRESETS["realistic"] and seen["tracker"] == TRACKERS["raw"]

    realistic, balls = PRESETS["realistic"], 300
    base = evaluate_baselines(balls, 7, SCENARIOS["default"], realistic, TRACKERS["kf"])
    want = evaluate(make_policy("expert"), balls, seed=7, sensing=realistic)
    assert base["expert"]["threat_dodge_rate"] == want.threat_dodge_rate < 1.0
    assert base["expert"]["sensing"] == "realistic"
    row = {"error": None, "tflite": str(default_model())}
    got = report_eval(row, balls, 7, SCENARIOS["default"], realistic, TRACKERS["kf"])
    sensed = evaluate(LearnedPolicy(default_model()), balls, seed=7, sensing=realistic)
    truth = evaluate(LearnedPolicy(default_model()), balls, seed=7)
    assert got["threat_dodge_rate"] == sensed.threat_dodge_rate != truth.threat_dodge_rate
