"""Benchmark the lockstep ROS graph against the arena evaluation of the same model and seed.

`dodge-lstm sim --lockstep --balls N --seed S` runs the whole deployed graph (simulator throwing
the arena's balls, feature ring buffer, lifecycle TFLite policy, DDS) as fast as it can go; this
prints its speed (simulated seconds per wall second) next to `dodge-lstm eval --arenas 1` with
the same model, seed and ball count in the same run, and checks that the two are the same run
ball for ball (README, "Lockstep"). Writes JSON.

    .venv/bin/python bench/bench_lockstep.py [--balls 2000] [--seed 7] [--timesteps 5 --units 15]
        [--repeats 3] [--baseline]

`--baseline` adds the same graph on rclpy's SingleThreadedExecutor (`--executor single`), the
executor it ran on before issue 18, in the same interleaved runs: the ratio is the speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
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
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of each, interleaved; the table shows medians (this machine "
                             "is shared: its speed drifts by a third within minutes)")
    parser.add_argument("--baseline", action="store_true",
                        help="also run the graph on the SingleThreadedExecutor (--executor "
                             "single), the executor before issue 18: ~4x slower")
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
    spec = str(resolve_model("", args.timesteps, args.units)) if args.policy == "lstm" \
        else "expert"
    executors = ("events", "single") if args.baseline else ("events",)
    graphs: dict[str, list[dict]] = {e: [] for e in executors}
    arenas: list = []
    differences: list = []
    for _ in range(args.repeats):
        for executor in executors:
            opts = SimOptions(policy=args.policy, lockstep=True, balls=args.balls,
                              timesteps=args.timesteps, units=args.units, seed=args.seed,
                              executor=executor, progress=True)
            log = BallLog()
            graphs[executor].append(run_sim(opts, ball_log=log))
            arena_log = BallLog()
            arenas.append(evaluate(make_policy(spec, seed=args.seed), args.balls,
                                   seed=args.seed, spawn_cfg=SpawnConfig(), arenas=1,
                                   ball_log=arena_log))
            differences.append(first_difference(log.records(args.balls), arena_log.records()))
    arena = arenas[0]
    arena_speeds = [a.sim_seconds / a.wall_seconds for a in arenas]
    arena_speed = statistics.median(arena_speeds)
    graph = graphs["events"][0]
    g_lo, g_hi = graph["threat_dodge_ci95"]
    a_lo, a_hi = arena.threat_dodge_ci95
    agree = g_lo <= arena.threat_dodge_rate <= g_hi and a_lo <= graph["threat_dodge_rate"] <= a_hi
    speeds = {e: statistics.median(g["speedup"] for g in runs) for e, runs in graphs.items()}
    rows = [
        ("", "ROS graph, lockstep", "eval --arenas 1"),
        ("policy", graph["policy"], spec.rsplit("/", 1)[-1]),
        ("balls", graph["balls"], arena.balls),
        ("threat balls", graph["threat_balls"], arena.threat_balls),
        ("threat hits", graph["threat_hits"], arena.threat_hits),
        ("threat dodge rate", f"{graph['threat_dodge_rate']:.2%} ({g_lo:.1%}-{g_hi:.1%})",
         f"{arena.threat_dodge_rate:.2%} ({a_lo:.1%}-{a_hi:.1%})"),
        ("simulated seconds", f"{graph['sim_seconds']:.0f}", f"{arena.sim_seconds:.0f}"),
    ]
    for executor in executors:
        runs = graphs[executor]
        rows += [
            (f"x real time [{executor}]", f"{speeds[executor]:.1f}",
             f"{arena_speed:.0f}" if executor == "events" else "-"),
            (f"  each run [{executor}]", " ".join(f"{g['speedup']:.1f}" for g in runs),
             " ".join(f"{a:.0f}" for a in arena_speeds) if executor == "events" else "-"),
            (f"  CPU % of a core [{executor}]",
             f"{statistics.median(g['graph_cpu_percent'] for g in runs):.0f}", "-"),
            (f"  lockstep timeouts [{executor}]", sum(g.get("lockstep_timeouts", 0)
                                                     for g in runs), "-"),
        ]
    for name, a, b in rows:
        print(f"{name:<30}{a!s:>26}{b!s:>26}")
    meets = speeds["events"] >= TARGET_SPEEDUP
    print(f"speed: {speeds['events']:.1f}x real time, median of {args.repeats} (target >= "
          f"{TARGET_SPEEDUP:g}x: {'meets' if meets else 'MISSES'}), "
          f"{speeds['events'] / arena_speed:.3f} of the one-arena evaluation's "
          f"{arena_speed:.0f}x in this run"
          + (f"; {speeds['events'] / speeds['single']:.2f}x the SingleThreadedExecutor's"
             if "single" in speeds else ""))
    different = [d for d in differences if d is not None]
    print(f"ball for ball: {'identical' if not different else 'DIFFERENT: ' + str(different[0])}"
          f" ({len(differences)} graph runs); rates within each other's 95% interval: "
          f"{'yes' if agree else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "graph": graph, "graph_runs": graphs, "arena": json.loads(arena.to_json()),
        "arena_speeds": arena_speeds, "median_speedup": speeds,
        "identical": not different, "first_difference": different[0] if different else None,
        "rates_agree": agree, "target_speedup": TARGET_SPEEDUP, "repeats": args.repeats,
        "loadavg_before": load_before, "loadavg_after": os.getloadavg()}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
