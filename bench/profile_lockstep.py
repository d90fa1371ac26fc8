"""Where a lockstep tick goes: the in-process graph under cProfile, time split by what it is.

Runs `dodge-lstm sim --lockstep --balls N` (default model) once per executor under the standard
library's profiler and sums each function's own time into categories: the executor (Python wait
set, or the C++ dispatch of the EventsExecutor, which also takes and deserializes in C), DDS
publish (conversion, serialization, delivery), message objects (constructing and deserializing
Python messages), the simulator's core arena, the feature core, inference, numpy, the nodes'
own callbacks, the bringup's observer. The profiler slows Python code more than C, so the
shares are a map, not a stopwatch: `bench_lockstep.py` measures speed. Prints a table and
writes JSON.

    .venv/bin/python bench/profile_lockstep.py [--balls 300] [--executors events,single]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
from pathlib import Path

# (category, predicate on (file, function name)), first match wins.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("observer, bringup", ("dodge_lstm/ros/bringup/", "tqdm/")),
    ("DDS publish", ("_rclpy_pybind11.publish", "rclpy/publisher.py",
                     "rclpy/lifecycle/publisher.py", "rclpy/lifecycle/managed_entity.py")),
    ("executor: wait set, dispatch, take (C++ spin_once)",
     ("rclpy/executors.py", "rclpy/experimental", "rclpy/task.py", "rclpy/callback_groups.py",
      "rclpy/event_handler.py", "rclpy/waitable.py", "rclpy/timer.py", "rclpy/guard_condition",
      "contextlib.py", "inspect.py", "rclpy/context.py", "_rclpy_pybind11.", "threading.py")),
    ("message objects", ("/msg/_", "rclpy/serialization.py", ":deserialize", "rclpy/time.py",
                         "rclpy/clock.py", "rclpy/duration.py")),
    ("simulator core (arena)", ("dodge_lstm/core/arena.py", "dodge_lstm/core/collision.py",
                                "dodge_lstm/core/spawning.py")),
    ("feature core", ("dodge_lstm/core/features.py", "dodge_lstm/core/feature_rows.py",
                      "dodge_lstm/core/odometry.py")),
    ("inference", ("ai_edge_litert", "dodge_lstm/runtime/")),
    ("markers (scene, conversion)", ("marker_scene.py", "markers_node.py", "cdr_peek.py")),
    ("nodes' callbacks", ("dodge_lstm/ros/",)),
    ("numpy", ("numpy", "<__array_function__")),
]


def categorize(stats: pstats.Stats) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """Own time per category [s] (`other`: everything unmatched), and the largest unmatched
    functions (so a category that misses something shows it)."""
    out: dict[str, float] = {name: 0.0 for name, _ in CATEGORIES} | {"other": 0.0}
    other: list[tuple[str, float]] = []
    for (file, _line, func), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():
        key = f"{file}:{func}"
        for name, needles in CATEGORIES:
            if any(n in key for n in needles):
                out[name] += tottime
                break
        else:
            out["other"] += tottime
            other.append((key, tottime))
    return out, sorted(other, key=lambda kv: -kv[1])[:8]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--executors", default="events,single")
    parser.add_argument("--out", type=Path, default=Path("bench/results/lockstep_profile.json"))
    args = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    from dodge_lstm.ros.bringup import graph
    from dodge_lstm.ros.bringup.options import SimOptions

    results = {}
    for executor in args.executors.split(","):
        profile = cProfile.Profile()
        run_for = graph._run_for

        def profiled(*a, _run_for=run_for, _profile=profile, **k):  # the run loop only
            _profile.enable()
            try:
                return _run_for(*a, **k)
            finally:
                _profile.disable()

        graph._run_for = profiled
        try:
            summary = graph.run_sim(SimOptions(lockstep=True, balls=args.balls, seed=args.seed,
                                               executor=executor))
        finally:
            graph._run_for = run_for
        shares, other = categorize(pstats.Stats(profile))
        total = sum(shares.values())
        ticks = summary["sim_seconds"] * 10
        results[executor] = {"profiled_seconds": total, "ticks": ticks,
                             "profiled_us_per_tick": 1e6 * total / ticks,
                             "shares": {k: v / total for k, v in shares.items()},
                             "largest_other": [(k, v / total) for k, v in other]}
    names = list(next(iter(results.values()))["shares"])
    print(f"{'own time, share of the run loop':<52}" + "".join(f"{e:>12}" for e in results))
    for name in names:
        print(f"{name:<52}" + "".join(f"{r['shares'][name]:>12.1%}" for r in results.values()))
    print(f"{'profiled µs per tick':<52}"
          + "".join(f"{r['profiled_us_per_tick']:>12.0f}" for r in results.values()))
    for executor, r in results.items():
        print(f"largest in 'other' [{executor}]: " + ", ".join(
            f"{k.rsplit('/', 1)[-1]} {v:.1%}" for k, v in r["largest_other"][:4]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"balls": args.balls, "seed": args.seed,
                                    "results": results}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
