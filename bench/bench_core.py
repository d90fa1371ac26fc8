"""Benchmark the ROS-free core: arena throughput and windowing throughput.

Prints a table and writes JSON (default bench/results/core.json). Numbers are from one run on
whatever machine runs it; compare ratios within a run, not across machines.

    .venv/bin/python bench/bench_core.py
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.windows import make_windows

TARGET_STEPS_PER_S = 1_000_000


def arena_throughput(batch: int, seconds: float) -> dict:
    """Arena-steps per second with random commands (the physics alone)."""
    arena = Arena(batch, seed=0)
    rng = np.random.default_rng(0)
    cmds = rng.uniform(-1, 1, (64, batch))
    for k in range(20):  # warm up, fill the slots
        arena.step(cmds[k % 64])
    steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for k in range(16):
            arena.step(cmds[k])
        steps += 16
    return {
        "case": f"arena B={batch}",
        "batch": batch,
        "steps": steps,
        "arena_steps_per_s": steps * batch / elapsed,
        "us_per_step": 1e6 * elapsed / steps,
    }


def expert_throughput(batch: int, seconds: float) -> dict:
    """Arena-steps per second including the expert planner (what dataset generation costs)."""
    arena = Arena(batch, seed=0)
    expert = ExpertPolicy()
    steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        arena.step(expert.act(arena))
        steps += 1
    return {
        "case": f"arena+expert B={batch}",
        "batch": batch,
        "steps": steps,
        "arena_steps_per_s": steps * batch / elapsed,
        "us_per_step": 1e6 * elapsed / steps,
    }


def windowing_throughput(rows: int, timesteps: int, episode_rows: int = 300) -> dict:
    """Rows per second turned into windows for a `rows`-row recording."""
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(rows, 8)).astype(np.float32)
    cmds = rng.uniform(-1, 1, rows).astype(np.float32)
    episode = np.arange(rows) // episode_rows
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        w = make_windows(feats, cmds, episode, timesteps)
        best = min(best, time.perf_counter() - start)
    return {
        "case": f"windows {rows:,} rows N={timesteps}",
        "rows": rows,
        "windows": len(w),
        "seconds": best,
        "rows_per_s": rows / best,
        "output_mb": w.x.nbytes / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per arena case")
    parser.add_argument("--out", type=Path, default=Path("bench/results/core.json"))
    args = parser.parse_args()

    results = [
        arena_throughput(1, args.seconds),
        arena_throughput(4096, args.seconds),
        expert_throughput(256, args.seconds),
    ]
    win = windowing_throughput(1_000_000, 5)
    print(f"{'case':<28} {'arena-steps/s':>15} {'us/step':>10}")
    for r in results:
        print(f"{r['case']:<28} {r['arena_steps_per_s']:>15,.0f} {r['us_per_step']:>10.1f}")
    print(
        f"{win['case']:<28} {win['rows_per_s']:>15,.0f} rows/s  ({win['seconds'] * 1e3:.0f} ms, "
        f"{win['windows']:,} windows, {win['output_mb']:.0f} MiB)"
    )
    big = results[1]["arena_steps_per_s"]
    verdict = "meets" if big >= TARGET_STEPS_PER_S else "MISSES"
    print(f"target >= {TARGET_STEPS_PER_S:,} arena-steps/s at B=4096: {verdict} ({big:,.0f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "machine": platform.machine(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "arena": results,
                "windowing": win,
                "target_arena_steps_per_s": TARGET_STEPS_PER_S,
            },
            indent=2,
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
