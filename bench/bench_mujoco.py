"""Speed of one MuJoCo world against one embedded arena, in the same run (issue 17).

Both step the 10 Hz control period with the same command pattern while a ball is thrown at the
robot every simulated second (5 m out, 3-5 m/s, aimed within 1 m of it):
the arena as `eval --arenas 1` steps it, MuJoCo through `physics.MujocoWorld` (50 physics steps
of 2 ms per period, contacts checked at each). Prints simulated seconds per wall second, per
core (one process, one world each), and writes JSON.

    .venv/bin/python bench/bench_mujoco.py [--seconds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import ArenaConfig


def throws(seconds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One ball per simulated second: start 5 m out, speed 3-5 m/s, aimed near the origin."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(seconds):
        a = rng.uniform(0, 2 * np.pi)
        start = 5.0 * np.array([np.cos(a), np.sin(a)])
        target = rng.uniform(-1.0, 1.0, 2)
        d = target - start
        out.append((start, rng.uniform(3.0, 5.0) * d / np.linalg.norm(d)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results/mujoco.json"))
    args = parser.parse_args()
    from dodge_lstm.physics.mujoco_world import MujocoWorld

    cfg = ArenaConfig()
    ticks = round(args.seconds * cfg.control_rate_hz)
    commands = 0.8 * np.sin(np.arange(ticks) * 0.05)
    balls = throws(args.seconds, args.seed)
    load = os.getloadavg()

    world = MujocoWorld(cfg)
    start, resolved = time.perf_counter(), 0
    for t in range(ticks):
        if t % round(cfg.control_rate_hz) == 0:
            pos, vel = balls[t // round(cfg.control_rate_hz)]
            world.throw(world.robot_pose()[0] + pos, vel)
        resolved += len(world.step(float(commands[t])))
    mujoco_s = time.perf_counter() - start

    arena = Arena(1, cfg, auto_spawn=False)
    start, arena_resolved = time.perf_counter(), 0
    for t in range(ticks):
        if t % round(cfg.control_rate_hz) == 0:
            pos, vel = balls[t // round(cfg.control_rate_hz)]
            arena.add_balls(np.array([0]), (arena.robot_pos[0] + pos)[None], vel[None])
        arena_resolved += len(arena.step(np.array([commands[t]])))
    arena_s = time.perf_counter() - start

    rows = [("", "MuJoCo world", "embedded arena (B=1)"),
            ("simulated seconds", args.seconds, args.seconds),
            ("wall seconds", f"{mujoco_s:.2f}", f"{arena_s:.2f}"),
            ("x real time, one core", f"{args.seconds / mujoco_s:.0f}",
             f"{args.seconds / arena_s:.0f}"),
            ("balls resolved", resolved, arena_resolved)]
    for name, a, b in rows:
        print(f"{name:<24}{a!s:>16}{b!s:>24}")
    print(f"MuJoCo runs at {arena_s / mujoco_s:.3f} of the arena's speed in this run "
          f"(load before {load[0]:.2f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "seconds": args.seconds, "mujoco_wall_s": mujoco_s, "arena_wall_s": arena_s,
        "mujoco_x_real_time": args.seconds / mujoco_s, "arena_x_real_time": args.seconds / arena_s,
        "balls_resolved": {"mujoco": resolved, "arena": arena_resolved},
        "loadavg_before": load}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
