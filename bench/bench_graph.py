"""Benchmark the node graph in one process: window -> Twist latency and 10 Hz period jitter.

Runs `dodge-lstm sim` (simulator, spawner, feature node, lifecycle TFLite policy, observer) at
real time and reads the observer's numbers, taken from DDS source timestamps (publication
times): latency from a window to the Twist that answers it, and the Twist stream's deviation
from the 100 ms period after a 2 s warm-up. Prints a table and writes JSON.

    .venv/bin/python bench/bench_graph.py [--duration 60]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

TARGETS = {"window_to_twist_p99_ms": 5.0, "twist_period_jitter_p99_ms": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="simulated = wall seconds")
    parser.add_argument("--processes", action="store_true",
                        help="one process per node (as ros2 launch) instead of one process")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default bench/results/graph[_processes].json)")
    args = parser.parse_args()
    if args.out is None:
        suffix = "_processes" if args.processes else ""
        args.out = Path(f"bench/results/graph{suffix}.json")
    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions

    s = run_sim(SimOptions(duration=args.duration, policy="lstm", processes=args.processes))
    rows = [
        ("window -> Twist p50 [ms]", s["window_to_twist_p50_ms"], None),
        ("window -> Twist p99 [ms]", s["window_to_twist_p99_ms"], "window_to_twist_p99_ms"),
        ("period jitter p50 [ms]", s["twist_period_jitter_p50_ms"], None),
        ("period jitter p99 [ms]", s["twist_period_jitter_p99_ms"], "twist_period_jitter_p99_ms"),
        ("simulator tick jitter p99 [ms]", s["odom_period_jitter_p99_ms"], None),
        ("inference p50 [us]", s["inference_p50_us"], None),
        ("inference p99 [us]", s["inference_p99_us"], None),
        ("Twist rate [Hz]", s["twist_rate_hz"], None),
    ]
    print(f"{'metric':<28} {'value':>10}  target")
    for name, value, key in rows:
        target = ""
        if key:
            ok = value is not None and value <= TARGETS[key]
            target = f"<= {TARGETS[key]}  {'meets' if ok else 'MISSES'}"
        shown = f"{value:>10.3f}" if value is not None else f"{'n/a':>10}"
        print(f"{name:<28} {shown}  {target}")
    print(f"{s['mode']}: policy state {s['policy_state']}, {s['twist_msgs']} Twists in "
          f"{s['sim_seconds']:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": s, "targets": TARGETS}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
