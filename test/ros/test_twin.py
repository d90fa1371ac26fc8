"""The lockstep ROS graph is the arena's exact twin: the same balls, the same outcomes.

`dodge-lstm sim --lockstep` (simulator throwing the arena's own draws, feature node, lifecycle
TFLite policy, all over DDS) and `dodge-lstm eval --arenas 1` with the same seed and model must
write identical per-ball files: every ball thrown at the same tick from the same place at the
same velocity, resolved the same way at the same tick. Rates inside each other's intervals can
hide a ROS-path bug; a ball-for-ball diff cannot. The mutants below (a feature node one tick
late, two slots swapped on the way to the policy) are exactly such bugs, and must be caught.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("ai_edge_litert")

from dodge_lstm.core.ball_records import BallLog, first_difference, read_csv
from dodge_lstm.core.config import SpawnConfig
from dodge_lstm.core.evaluation import evaluate
from dodge_lstm.resources import default_model, model_for
from dodge_lstm.ros.bringup.graph import run_sim
from dodge_lstm.ros.bringup.options import SimOptions
from dodge_lstm.runtime.learned_policy import make_policy

pytestmark = pytest.mark.ros

REPO_ROOT = Path(__file__).resolve().parents[2]
SEED = 7


def arena_records(model: Path, balls: int, seed: int = SEED) -> list:
    log = BallLog()
    evaluate(make_policy(str(model), seed=seed), balls, seed=seed, spawn_cfg=SpawnConfig(),
             arenas=1, ball_log=log)
    return log.records()


def graph_records(balls: int, seed: int = SEED, **kwargs) -> tuple[dict, list]:
    log = BallLog()
    summary = run_sim(SimOptions(lockstep=True, balls=balls, seed=seed, **kwargs),
                      ball_log=log)
    return summary, log.records(balls)


def test_the_cli_runs_write_identical_outcome_files(tmp_path):
    """The commands of the issue, as a user types them: `eval --outcomes` then `sim --compare`
    (which also writes its own file); exit 0 and `outcomes_match` only if every ball agrees."""
    env_cmd = [sys.executable, "-m", "dodge_lstm.cli"]
    arena_csv, graph_csv = tmp_path / "a.csv", tmp_path / "g.csv"
    subprocess.run([*env_cmd, "eval", "--policy", str(default_model()), "--arenas", "1",
                    "--balls", "300", "--seed", str(SEED), "--outcomes", str(arena_csv),
                    "--json"], check=True, capture_output=True, timeout=300, cwd=tmp_path)
    run = subprocess.run([*env_cmd, "sim", "--lockstep", "--balls", "300", "--seed", str(SEED),
                          "--outcomes", str(graph_csv), "--compare", str(arena_csv), "--json"],
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["outcomes_match"] is True and summary["first_difference"] is None
    assert summary["spawner"] == "sim" and summary["rejected_windows"] == 0
    arena, graph = read_csv(arena_csv), read_csv(graph_csv)
    assert len(arena) == 300 and arena == graph
    assert sum(r.threat for r in arena) > 50  # a run with threats, not an idle one
    assert arena_csv.read_bytes() == graph_csv.read_bytes()


def test_the_2020_model_is_twinned_too():
    """t5/u15 (two slots, another window length): the same identity."""
    arena = arena_records(model_for(5, 15), 200)
    summary, graph = graph_records(200, timesteps=5, units=15)
    assert first_difference(graph, arena) is None
    assert summary["balls"] == 200 and summary["lockstep_timeouts"] == 0


def test_the_mujoco_graph_is_the_twin_of_eval_on_mujoco():
    """`sim --sim mujoco --lockstep` and `eval --backend mujoco --arenas 1`: the same identity
    on real physics, where a hit or a turn slides the robot sideways. Plausible bug: odom
    without the sideways velocity (the embedded robot never has one), so the graph's features
    differ from the evaluation's after the first shove and the runs drift apart."""
    pytest.importorskip("mujoco")
    from dodge_lstm.physics.backends import arena_factory

    log = BallLog()
    evaluate(make_policy(str(default_model()), seed=SEED), 150, seed=SEED,
             spawn_cfg=SpawnConfig(), arenas=1, ball_log=log,
             make_arena=arena_factory("mujoco"))
    arena = log.records()
    summary, graph = graph_records(150, sim="mujoco")
    assert first_difference(graph, arena) is None
    assert summary["rejected_windows"] == 0 and summary["policy_state"] == "active"
    assert summary["sim"] == "mujoco"
    assert sum(r.threat for r in arena) > 30


MUTANTS = {
    # The policy gets the window of the tick before: every command one tick late.
    "one tick late": lambda window, state: (state.pop("previous", window),
                                            state.update(previous=window))[0],
    # Slots 0 and 1 swapped between the feature node and the policy.
    "slots swapped": lambda window, state: np.concatenate(
        [window[:, 4:8], window[:, 0:4], window[:, 8:]], axis=1),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_ros_path_bug_breaks_the_twin(monkeypatch, mutant):
    """The identity test must fail for bugs that leave the rates plausible: the feature node's
    outgoing windows are altered in place (a mock of a bug, in this test only)."""
    from dodge_lstm.ros.nodes import features_node

    state: dict = {}
    real = features_node.window_to_msg
    monkeypatch.setattr(features_node, "window_to_msg",
                        lambda window: real(MUTANTS[mutant](window, state)))
    arena = arena_records(default_model(), 60)
    summary, graph = graph_records(60)
    difference = first_difference(graph, arena)
    assert difference is not None, f"{mutant}: the twin did not notice"
    assert 0.5 <= summary["threat_dodge_rate"] <= 1.0 or summary["threat_balls"] == 0
