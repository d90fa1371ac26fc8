"""Scenarios: held-out spawner settings and the training mixture, as `eval` and `dataset` use
them."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import TARGETING_MODES, ArenaConfig, SpawnConfig
from dodge_lstm.core.dataset import record_scenario
from dodge_lstm.core.evaluation import evaluate, evaluate_scenario
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.scenarios import SCENARIOS, scenario
from dodge_lstm.core.spawning import spawn_balls


def spawned(cfg: SpawnConfig, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """Distances and speeds of `n` balls spawned around a robot at the origin."""
    pos, vel = spawn_balls(np.random.default_rng(0), np.zeros((n, 2)), np.zeros(n), cfg)
    return np.linalg.norm(pos, axis=1), np.linalg.norm(vel, axis=1)


def test_presets_change_what_they_say() -> None:
    d_dist, d_speed = spawned(scenario("default").single)
    _, f_speed = spawned(scenario("fast").single)
    c_dist, _ = spawned(scenario("close").single)
    assert d_speed.min() >= 3.0 and d_speed.max() <= 5.0
    assert f_speed.min() >= 5.0 and f_speed.max() <= 7.0 and f_speed.mean() > 5.5
    assert c_dist.max() < d_dist.min()  # 3.5 m (+ offset) is nearer than 5 m
    assert scenario("crowd").single.num_balls == 3
    assert scenario("random").single.targeting == "random"


def test_distance_range_draws_within_it_and_fixed_distance_keeps_the_stream() -> None:
    cfg = SpawnConfig(distance=3.5, distance_max=7.0, lateral_offset=0.0)
    dist, _ = spawned(cfg)
    assert dist.min() >= 3.5 and dist.max() <= 7.0 and dist.std() > 0.8
    # A fixed distance draws nothing more: the default spawns are the seed's, unchanged.
    a = spawn_balls(np.random.default_rng(3), np.zeros((5, 2)), np.zeros(5), SpawnConfig())
    b = spawn_balls(np.random.default_rng(3), np.zeros((5, 2)), np.zeros(5),
                    SpawnConfig(distance_max=5.0))
    np.testing.assert_array_equal(a[0], b[0])


def test_arena_refuses_spawns_beyond_the_despawn_distance() -> None:
    with pytest.raises(ValueError, match="despawn_distance"):
        Arena(2, ArenaConfig(despawn_distance=6.0), SpawnConfig(distance=3.5, distance_max=7.0))


def test_mixture_covers_every_mode_and_ball_count() -> None:
    mixed = scenario("mixed").components
    assert {(c.targeting, c.num_balls) for c in mixed} == {
        (m, n) for m in TARGETING_MODES for n in (1, 2, 3, 4)}
    assert all(c.speed_min == 2.0 and c.speed_max == 7.0 for c in mixed)
    with pytest.raises(ValueError, match="one spawner runs one"):
        _ = scenario("mixed").single


def test_overrides_apply_to_every_component() -> None:
    fast = scenario("mixed").with_overrides(speed_min=6.0, speed_max=7.0, targeting=None)
    assert all(c.speed_min == 6.0 for c in fast.components)
    assert {c.targeting for c in fast.components} == set(TARGETING_MODES)  # None ignored
    with pytest.raises(ValueError, match="speed_min <= speed_max"):
        scenario("default").with_overrides(speed_min=6.0)
    with pytest.raises(ValueError, match="unknown scenario"):
        scenario("windy")


def test_single_component_scenario_is_exactly_evaluate() -> None:
    a = evaluate_scenario(ExpertPolicy(), scenario("crowd"), 150, seed=4, arenas=16)
    b = evaluate(ExpertPolicy(), 150, seed=4, spawn_cfg=SpawnConfig(num_balls=3), arenas=16)
    assert (a.balls, a.hits, a.threat_balls, a.threat_hits) == \
        (b.balls, b.hits, b.threat_balls, b.threat_hits)
    assert a.scenario == "crowd"


def test_mixture_spreads_balls_over_components() -> None:
    res = evaluate_scenario(ExpertPolicy(), scenario("mixed"), 205, seed=1)
    assert res.balls == 205 and res.scenario == "mixed" and res.num_balls == 4
    with pytest.raises(ValueError, match="at least that many balls"):
        evaluate_scenario(ExpertPolicy(), scenario("mixed"), 10)


def test_record_mixture_keeps_slots_and_every_component() -> None:
    rec = record_scenario(scenario("mixed"), 20, seed=2, episode_s=3.0, num_slots=4)
    assert rec.num_features == 16 and rec.meta["num_slots"] == 4
    assert len(np.unique(rec.episode)) == 20 and rec.meta["scenario"] == "mixed"
    # 4-ball components fill all four slots at some row.
    alive = np.abs(rec.features.reshape(len(rec.features), 4, 4)).sum(axis=2) > 0
    assert alive.sum(axis=1).max() == 4


def test_eval_cli_scenario_list_is_one_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "stationary", "--balls",
         "100", "--scenario", "default,fast,close", "--json"],
        capture_output=True, text=True, check=True, timeout=120)
    rows = json.loads(out.stdout)
    assert [r["scenario"] for r in rows] == ["default", "fast", "close"]
    assert all(r["balls"] == 100 for r in rows)
    table = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "stationary", "--balls",
         "60", "--scenario", "crowd,random", "--speed-min", "4", "--distance", "4"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    assert "crowd" in table and "random" in table and "threat dodge rate" in table
    bad = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "eval", "--scenario", "windy"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown scenario 'windy'" in bad.stderr


def test_a_scenario_with_overrides_is_filed_under_its_overrides() -> None:
    """`key` names what was measured: the preset's name alone only for the preset itself."""
    fast = SCENARIOS["fast"]
    assert fast.key == "fast" and fast.with_overrides(speed_max=None) is fast
    faster = fast.with_overrides(speed_max=9.0)
    assert faster.key == "fast (speed_max=9.0)" and faster.name == "fast"
    assert faster.with_overrides(num_balls=3).key == "fast (speed_max=9.0, num_balls=3)"


def test_every_preset_is_documented_in_help() -> None:
    out = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "eval", "--help"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    for name in SCENARIOS:
        assert name in out


def test_eval_write_scores_records_the_measured_rates(tmp_path) -> None:
    """`eval --write-scores` puts exactly what it printed into the model's JSON."""
    import shutil
    from pathlib import Path

    models = Path(__file__).resolve().parents[2] / "models"
    model = tmp_path / "m.tflite"
    shutil.copyfile(models / "lstm_t5_u15.tflite", model)
    shutil.copyfile(models / "lstm_t5_u15.json", tmp_path / "m.json")
    out = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", str(model), "--balls",
         "120", "--seed", "3", "--scenario", "default,fast", "--json", "--write-scores"],
        capture_output=True, text=True, check=True, timeout=120)
    printed = {r["scenario"]: r for r in json.loads(out.stdout)}
    scores = json.loads((tmp_path / "m.json").read_text())["scores"]
    assert scores["reported"]["threat_dodge_rate"] == printed["default"]["threat_dodge_rate"]
    assert scores["reported"]["seed"] == 3 and scores["reported"]["balls"] == 120
    assert scores["scenarios"]["fast"]["threat_dodge_ci95"] == \
        printed["fast"]["threat_dodge_ci95"]
    # The same scenarios with an override are other conditions: filed under their own keys,
    # they must not overwrite the presets' scores (the bug: `fast` measured at up to 6 m/s
    # replaced the `fast` score, and an overridden `default` was filed as a scenario "default").
    out = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", str(model), "--balls",
         "120", "--seed", "3", "--scenario", "default,fast", "--speed-max", "6", "--json",
         "--write-scores"], capture_output=True, text=True, check=True, timeout=120)
    changed = {r["scenario"]: r for r in json.loads(out.stdout)}
    assert set(changed) == {"default (speed_max=6.0)", "fast (speed_max=6.0)"}
    again = json.loads((tmp_path / "m.json").read_text())["scores"]
    assert again["reported"] == scores["reported"]
    assert again["scenarios"]["fast"] == scores["scenarios"]["fast"]
    for key, res in changed.items():
        assert again["scenarios"][key]["threat_dodge_rate"] == res["threat_dodge_rate"]
    bad = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "expert",
                          "--balls", "10", "--write-scores"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "needs a .tflite" in bad.stderr
