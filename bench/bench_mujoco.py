"""Evaluation speed on MuJoCo against the embedded arena, in the same run (issue 17).

Each row is `evaluate` as `dodge-lstm eval` runs it (the expert, default scenario, seed 7,
`--balls` balls): the arena, then MuJoCo with its worlds stepped on the calling thread only (one
core) and on a pool of one thread per core. Prints wall seconds, simulated seconds per wall
second in all and per core, and writes JSON. The issue's target: 2000 balls in about a minute on
2 cores.

    .venv/bin/python bench/bench_mujoco.py [--balls 2000] [--arenas 64]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.evaluation import REPORTED_SEED, evaluate
from dodge_lstm.core.expert import ExpertPolicy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--arenas", type=int, default=64)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--out", type=Path, default=Path("bench/results/mujoco.json"))
    args = parser.parse_args()
    from dodge_lstm.physics.mujoco_arena import MujocoArena

    cores = os.cpu_count() or 1
    load = os.getloadavg()
    runs = [("arena", Arena, 1),
            ("MuJoCo, 1 thread", partial(MujocoArena, threads=0), 1),
            (f"MuJoCo, {cores} threads", partial(MujocoArena, threads=cores), cores)]
    results = {}
    for name, make, used in runs:
        start = time.perf_counter()
        res = evaluate(ExpertPolicy(), args.balls, seed=args.seed, arenas=args.arenas,
                       make_arena=make)
        wall = time.perf_counter() - start
        simulated = res.sim_seconds * res.arenas
        results[name] = {"wall_s": wall, "simulated_s": simulated, "cores": used,
                         "x_real_time": simulated / wall,
                         "x_real_time_per_core": simulated / wall / used,
                         "threat_dodge_rate": res.threat_dodge_rate}
    print(f"{'':<22}{'wall s':>8}{'sim s':>8}{'x real time':>13}{'per core':>10}"
          f"{'threat dodge':>14}")
    for name, r in results.items():
        print(f"{name:<22}{r['wall_s']:>8.1f}{r['simulated_s']:>8.0f}{r['x_real_time']:>13.0f}"
              f"{r['x_real_time_per_core']:>10.0f}{r['threat_dodge_rate']:>14.1%}")
    arena, one = results["arena"], results["MuJoCo, 1 thread"]
    pool = results[f"MuJoCo, {cores} threads"]
    print(f"per core, MuJoCo runs at {one['x_real_time'] / arena['x_real_time']:.3f} of the "
          f"arena's speed; {cores} threads are {one['wall_s'] / pool['wall_s']:.2f}x one "
          f"(load before {load[0]:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"balls": args.balls, "arenas": args.arenas,
                                    "seed": args.seed, "runs": results,
                                    "loadavg_before": load}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
