"""Lockstep: the deployed ROS graph evaluated like the arena, as fast as it can go.

`dodge-lstm sim --lockstep --balls N --seed S` steps the simulator only when the driver has
answered, so its result depends on the seed, not on machine load: two runs must agree ball for
ball. Against `dodge-lstm eval --arenas 1` (same model, seed, settings) the per-ball outcomes
are not the same ones: the ROS spawner draws from its own generator, and its balls appear one
tick after the arena's (the request answers the tick's odom). So the bar is statistical: each
threat dodge rate lies within the other's Wilson 95% interval. A graph whose policy publishes
zeros (a stationary robot dodges 0% of threats) fails that, as does one that lets the
simulator run ahead of the policy.
"""

import pytest

pytest.importorskip("rclpy")

from dodge_lstm.core.evaluation import evaluate
from dodge_lstm.resources import default_model
from dodge_lstm.ros.bringup.graph import run_sim
from dodge_lstm.ros.bringup.options import SimOptions
from dodge_lstm.runtime.learned_policy import LearnedPolicy

pytestmark = pytest.mark.ros

COUNTS = ("balls", "hits", "threat_balls", "threat_hits", "sim_seconds")


def _lockstep(balls: int, seed: int, policy: str = "lstm") -> dict:
    return run_sim(SimOptions(policy=policy, lockstep=True, balls=balls, seed=seed))


def test_lockstep_is_reproducible_ball_for_ball():
    a, b = _lockstep(150, seed=4), _lockstep(150, seed=4)
    assert a["policy_state"] == "active" and a["balls"] == 150
    assert {k: a[k] for k in COUNTS} == {k: b[k] for k in COUNTS}
    assert a["nonfinite_twists"] == 0 and a["rejected_windows"] == 0
    # Only the ticks before the policy was activated may step without an answer.
    assert a["lockstep_timeouts"] <= 3


def test_lockstep_graph_scores_like_the_arena_evaluation():
    graph = _lockstep(400, seed=7)
    arena = evaluate(LearnedPolicy(default_model()), 400, seed=7, arenas=1)  # what sim runs
    assert graph["balls"] == arena.balls == 400
    assert graph["threat_balls"] > 100 and arena.threat_balls > 100
    lo, hi = graph["threat_dodge_ci95"]
    assert lo <= arena.threat_dodge_rate <= hi, (graph, arena.to_json())
    lo, hi = arena.threat_dodge_ci95
    assert lo <= graph["threat_dodge_rate"] <= hi, (graph, arena.to_json())
    assert graph["threat_dodge_rate"] > 0.8  # the model drives: a still robot gets 0%


def test_lockstep_with_the_expert_driver():
    s = _lockstep(60, seed=2, policy="expert")
    assert s["balls"] == 60 and s["threat_balls"] > 10
    assert s["threat_dodge_rate"] >= 0.95


def test_stamped_and_plain_cmd_vel_drive_alike_and_both_import_from_bags(tmp_path):
    """TwistStamped (nav2's default) and plain Twist: the same lockstep run, ball for ball, and
    both recordings become the same dataset (labels read from either message type)."""
    import numpy as np

    from dodge_lstm.bags.bag_dataset import recording_from_bag
    from dodge_lstm.bags.rosbag_io import bag_summary

    runs, data = {}, {}
    for stamped in (False, True):
        bag = tmp_path / f"stamped_{stamped}"
        runs[stamped] = run_sim(SimOptions(policy="expert", lockstep=True, balls=40, seed=5,
                                           stamped=stamped, record=str(bag)))
        kind = bag_summary(bag)["/cmd_vel"][0]
        assert kind == ("geometry_msgs/msg/TwistStamped" if stamped
                        else "geometry_msgs/msg/Twist")
        data[stamped] = recording_from_bag(bag)
    assert {k: runs[True][k] for k in COUNTS} == {k: runs[False][k] for k in COUNTS}
    assert runs[True]["threat_balls"] > 5 and runs[True]["threat_hits"] == 0
    plain, stamped_rec = data[False], data[True]
    n = min(len(plain.commands), len(stamped_rec.commands))
    assert n > 300 and np.abs(plain.commands[:n]).max() > 0.5
    np.testing.assert_array_equal(stamped_rec.commands[:n], plain.commands[:n])
    np.testing.assert_array_equal(stamped_rec.features[:n], plain.features[:n])
