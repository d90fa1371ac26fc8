"""Benchmark the lockstep ROS graph against the arena evaluation of the same model and seed.

`dodge-lstm sim --lockstep --balls N --seed S` runs the whole deployed graph (simulator throwing
the arena's balls, feature ring buffer, lifecycle TFLite policy, DDS) as fast as it can go; this
prints its speed (simulated seconds per wall second) next to `dodge-lstm eval --arenas 1` with
the same model, seed and ball count in the same run, and checks that the two are the same run
ball for ball (README, "Lockstep"). Writes JSON.

    .venv/bin/python bench/bench_lockstep.py [--balls 2000] [--seed 7] [--timesteps 5 --units 15]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from dodge_lstm.core.evaluation import REPORTED_SEED

TARGET_SPEEDUP = 50.0
"""Issue 18's floor for the default model in one process (aim 100x)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--policy", choices=("lstm", "expert"), default="lstm")
    parser.add_argument("--timesteps", type=int, default=None,
                        help="with --units: the grid model (default: the default model)")
    parser.add_argument("--units", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench/results/lockstep.json"))
    args = parser.parse_args()
    # Above the test suite's domains (1-100), so a bench never meets a test's graph.
    os.environ.setdefault("ROS_DOMAIN_ID", str(150 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    from dodge_lstm.core.ball_records import BallLog, first_difference
    from dodge_lstm.core.config import SpawnConfig
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.resources import resolve_model
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions
    from dodge_lstm.runtime.learned_policy import make_policy

    load_before = os.getloadavg()
    opts = SimOptions(policy=args.policy, lockstep=True, balls=args.balls,
                      timesteps=args.timesteps, units=args.units, seed=args.seed, progress=True)
    graph_log, arena_log = BallLog(), BallLog()
    graph = run_sim(opts, ball_log=graph_log)
    spec = str(resolve_model("", args.timesteps, args.units)) if args.policy == "lstm" \
        else "expert"
    arena = evaluate(make_policy(spec, seed=args.seed), args.balls, seed=args.seed,
                     spawn_cfg=SpawnConfig(), arenas=1, ball_log=arena_log)
    difference = first_difference(graph_log.records(args.balls), arena_log.records())
    g_lo, g_hi = graph["threat_dodge_ci95"]
    a_lo, a_hi = arena.threat_dodge_ci95
    agree = g_lo <= arena.threat_dodge_rate <= g_hi and a_lo <= graph["threat_dodge_rate"] <= a_hi
    rows = [
        ("", "ROS graph, lockstep", "eval --arenas 1"),
        ("policy", graph["policy"], spec.rsplit("/", 1)[-1]),
        ("balls", graph["balls"], arena.balls),
        ("threat balls", graph["threat_balls"], arena.threat_balls),
        ("threat hits", graph["threat_hits"], arena.threat_hits),
        ("threat dodge rate", f"{graph['threat_dodge_rate']:.2%} ({g_lo:.1%}-{g_hi:.1%})",
         f"{arena.threat_dodge_rate:.2%} ({a_lo:.1%}-{a_hi:.1%})"),
        ("simulated seconds", f"{graph['sim_seconds']:.0f}", f"{arena.sim_seconds:.0f}"),
        ("wall seconds", f"{graph['wall_seconds']:.1f}", f"{arena.wall_seconds:.1f}"),
        ("x real time", f"{graph['speedup']:.1f}", f"{arena.sim_seconds / arena.wall_seconds:.0f}"),
        ("lockstep timeouts", graph.get("lockstep_timeouts"), "-"),
        ("graph CPU [% of a core]", f"{graph['graph_cpu_percent']:.0f}", "-"),
    ]
    for name, a, b in rows:
        print(f"{name:<24}{a!s:>26}{b!s:>26}")
    meets = graph["speedup"] >= TARGET_SPEEDUP
    arena_speed = arena.sim_seconds / arena.wall_seconds
    print(f"speed: {graph['speedup']:.1f}x real time (target >= {TARGET_SPEEDUP:g}x: "
          f"{'meets' if meets else 'MISSES'}), {graph['speedup'] / arena_speed:.3f} of the "
          f"one-arena evaluation's {arena_speed:.0f}x in this run")
    print("ball for ball: " + ("identical" if difference is None else f"DIFFERENT: {difference}")
          + f"; rates within each other's 95% interval: {'yes' if agree else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"graph": graph, "arena": json.loads(arena.to_json()),
                                    "identical": difference is None,
                                    "first_difference": difference,
                                    "rates_agree": agree, "target_speedup": TARGET_SPEEDUP,
                                    "loadavg_before": load_before}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
