"""An hour of simulated time through the deployed graph, in lockstep (~1 min of wall time).

The plausible bugs: memory that grows with every ball (a tracker or a marker dict that never
forgets), counters that drift apart (windows dropped, a second command per tick, a watchdog that
fires in steady state), balls that are thrown but never resolved (a lost outcome, a slot the
spawner never frees), a lockstep that stalls into its timeout.
"""

import pytest

pytest.importorskip("rclpy")

from dodge_lstm.ros.bringup.graph import run_sim
from dodge_lstm.ros.bringup.options import SimOptions

pytestmark = pytest.mark.ros

HOUR_S = 3600.0


def test_an_hour_of_lockstep_stays_flat_and_consistent():
    s = run_sim(SimOptions(duration=HOUR_S, policy="lstm", lockstep=True, seed=11))
    ticks = round(s["sim_seconds"] / 0.1)
    assert s["sim_seconds"] >= HOUR_S and s["policy_state"] == "active"
    # Memory: flat after a 10-minute warm-up (allocator pools, DDS and TFLite caches filling):
    # a leak of 1 KB per ball, or a few hundred bytes per tick, would show as > 3 MB here.
    rss = dict(s["graph_rss_mb"])
    warm = rss[min(t for t in rss if t >= 600)]
    assert max(rss.values()) - warm < 3.0, s["graph_rss_mb"]
    # Counters: one window and one command per tick, nothing rejected, no watchdog in steady
    # state, no stalls.
    assert abs(s["twist_msgs"] - ticks) <= 3, (s["twist_msgs"], ticks)
    assert s["nonfinite_twists"] == 0 and s["rejected_windows"] == 0
    assert s["stale_zeros"] <= 2 and s["lockstep_timeouts"] <= 3
    # Balls: thousands thrown, every one resolved but the (at most two) still flying.
    assert s["balls_thrown"] > 2000
    assert s["balls_unresolved"] <= 2
    assert s["balls"] >= s["balls_thrown"] - 2
    assert s["threat_dodge_rate"] > 0.9
