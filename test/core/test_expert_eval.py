"""Expert quality, baselines and the evaluation harness (CLI included)."""

import json
import math
import subprocess
import sys
from statistics import NormalDist

import numpy as np
import pytest

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.baselines import RandomPolicy, StationaryPolicy
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.evaluation import evaluate, wilson_interval
from dodge_lstm.core.expert import ExpertPolicy, expert_command, robot_track
from dodge_lstm.runtime.learned_policy import make_policy


def test_expert_dodges_at_least_95_percent_of_threats():
    res = evaluate(ExpertPolicy(), 1500, seed=7, arenas=64)
    assert res.threat_balls > 400
    assert res.threat_dodge_rate >= 0.95, res.table()


def test_stationary_is_hit_by_every_threat_and_random_in_between():
    still = evaluate(StationaryPolicy(), 600, seed=1, arenas=64)
    assert still.threat_hits == still.threat_balls > 100
    assert still.threat_dodge_rate == 0.0
    rnd = evaluate(RandomPolicy(seed=1), 600, seed=1, arenas=64)
    assert 0.1 < rnd.threat_dodge_rate < 0.9


def test_expert_moves_out_of_the_way_of_a_single_ball():
    # A ball 4 m to the left, flying straight at the robot's centre: any move beats standing.
    cmd = expert_command(np.array([[[0.0, 4.0]]]), np.array([[[0.0, -4.0]]]),
                         np.array([[True]]), np.zeros(1))
    assert abs(cmd[0]) == pytest.approx(1.0)
    # Nothing visible: come to rest.
    idle = expert_command(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), np.array([[False]]),
                          np.array([0.8]))
    assert idle[0] == 0.0


def test_robot_track_respects_acceleration_limit():
    times = np.linspace(0, 2, 21)
    x = robot_track(np.array([0.0]), np.array([1.0]), times, 2.0)[0, 0]
    np.testing.assert_allclose(x[5], 0.25)  # 0.5 s ramp: 0.5 * 2 * 0.5^2
    np.testing.assert_allclose(x[-1], 0.25 + 1.5)


def test_evaluation_resolves_exactly_n_and_is_deterministic():
    a = evaluate(ExpertPolicy(), 301, seed=3, arenas=32)
    b = evaluate(ExpertPolicy(), 301, seed=3, arenas=32)
    assert a.balls == 301
    assert (a.hits, a.threat_balls, a.threat_hits) == (b.hits, b.threat_balls, b.threat_hits)


def test_wilson_interval():
    lo, hi = wilson_interval(95, 100)
    assert 0.88 < lo < 0.95 < hi < 0.99
    assert wilson_interval(0, 50)[0] == pytest.approx(0.0, abs=1e-12)
    assert wilson_interval(50, 50)[1] == pytest.approx(1.0)
    assert wilson_interval(50, 50)[0] > 0.9
    # A perfect (or nil) rate lies inside its own interval exactly, whatever n: rounding once
    # left the upper bound at 0.9999999999999999 for 141 of 141 and a lockstep check failed.
    for n in range(1, 2001):
        assert wilson_interval(n, n)[1] == 1.0 and wilson_interval(0, n)[0] == 0.0


def test_wilson_interval_is_the_95_percent_one():
    """8 of 10: the textbook 95% Wilson interval (0.490, 0.943), recomputed here from the
    formula with z = Phi^-1(0.975), and 95 of 100 and 1 of 7 likewise.

    Plausible bug: a wrong z (1.0, a ~68% interval, or 1.645, a 90% one) makes every reported
    "95% CI" too narrow while the loose bounds of `test_wilson_interval` still hold.
    """
    z = NormalDist().inv_cdf(0.975)

    def wilson(k: int, n: int) -> tuple[float, float]:
        p = k / n
        centre = p + z * z / (2 * n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        return ((centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n))

    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    for k, n in ((8, 10), (95, 100), (1, 7)):
        assert wilson_interval(k, n) == pytest.approx(wilson(k, n), rel=1e-6)


@pytest.mark.parametrize("balls", [0, -3])
def test_evaluate_refuses_fewer_than_one_ball(balls):
    """`evaluate` with no balls to resolve says so instead of returning a result.

    Plausible bug: without the `balls >= 1` guard the loop never runs and the run "succeeds"
    with 0 balls, a NaN dodge rate and a (0, 1) interval (`dodge-lstm eval --balls 0` printing
    a table of nothing, or a sweep scoring NaN) instead of a clear error.
    """
    with pytest.raises(ValueError, match=f"balls must be >= 1, got {balls}"):
        evaluate(StationaryPolicy(), balls, seed=0, arenas=4)


def test_make_policy_rejects_unknown():
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("teleport")


def test_eval_cli_json():
    out = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "stationary", "--balls",
         "200", "--seed", "2", "--targeting", "straight", "--num-balls", "1", "--json"],
        capture_output=True, text=True, check=True, timeout=60)
    res = json.loads(out.stdout)
    for key in ("policy", "balls", "hits", "dodge_rate", "threat_balls", "threat_dodge_rate",
                "threat_dodge_ci95"):
        assert key in res
    assert res["balls"] == 200 and res["policy"] == "stationary"
    assert res["targeting"] == "straight" and res["num_balls"] == 1
    assert len(res["threat_dodge_ci95"]) == 2
    # straight throws from U(-1.5, 1.5) hit a still robot with probability ~ 0.377 / 1.5
    assert 0.15 < res["threat_balls"] / 200 < 0.35


def test_eval_cli_table_and_bad_policy():
    out = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "expert",
                          "--balls", "100"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "threat dodge rate" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "dodge_lstm.cli", "eval", "--policy", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown policy" in bad.stderr


def test_arena_config_validation():
    with pytest.raises(ValueError, match="speed_limit"):
        Arena(1, ArenaConfig(speed_limit=0.0))
    with pytest.raises(ValueError, match="num_balls"):
        Arena(1, spawn=SpawnConfig(num_balls=0))
