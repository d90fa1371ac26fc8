"""Benchmark the Gymnasium envs against the bare arena they wrap, in one run.

What the env adds on top of `Arena.step` is the observation (`ball_features` + the window copy),
the outcome counting and the autoresets; the ratio says what that costs. Prints a table and
writes JSON (default bench/results/gym.json). Compare ratios within a run, not across machines.

    .venv/bin/python bench/bench_gym.py [--seconds 3] [--out /tmp/gym.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium
import numpy as np

from dodge_lstm.core.arena import Arena
from dodge_lstm.gym import DodgeBallEnv, DodgeBallVectorEnv

TARGET_STEPS_PER_S = 1_000_000
BATCH = 4096


def _rate(step: Callable[[int], object], batch: int, seconds: float) -> dict:
    """Arena-steps per second of `step(k)` (k cycles through 64 pre-drawn action sets)."""
    for k in range(20):  # warm up, fill the ball slots
        step(k % 64)
    steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for k in range(16):
            step(k)
        steps += 16
    return {"steps": steps, "arena_steps_per_s": steps * batch / elapsed,
            "us_per_step": 1e6 * elapsed / steps}


def bare_arena(batch: int, seconds: float) -> dict:
    """`Arena.step` with uniform random commands, as bench_core measures it."""
    arena = Arena(batch, seed=0)
    cmds = np.random.default_rng(0).uniform(-1, 1, (64, batch))
    return {"case": f"Arena.step B={batch}", "batch": batch,
            **_rate(lambda k: arena.step(cmds[k]), batch, seconds)}


def vector_env(batch: int, seconds: float) -> dict:
    """`DodgeBallVectorEnv.step` with random actions (observations, rewards, autoresets)."""
    env = DodgeBallVectorEnv(batch)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (64, batch, 1)).astype(np.float32)
    return {"case": f"DodgeBallVectorEnv.step N={batch}", "batch": batch,
            **_rate(lambda k: env.step(actions[k]), batch, seconds)}


def single_env(seconds: float) -> dict:
    """One `gymnasium.make("DodgeBall-v0")` env with its default wrappers, for scale."""
    env = gymnasium.make("DodgeBall-v0")
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (64, 1)).astype(np.float32)

    def step(k: int) -> None:
        if env.step(actions[k])[3]:
            env.reset()

    assert isinstance(env.unwrapped, DodgeBallEnv)
    return {"case": "make('DodgeBall-v0').step", "batch": 1, **_rate(step, 1, seconds)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per case")
    parser.add_argument("--out", type=Path, default=Path("bench/results/gym.json"))
    args = parser.parse_args()

    results = [bare_arena(BATCH, args.seconds), vector_env(BATCH, args.seconds),
               bare_arena(1, args.seconds), single_env(args.seconds)]
    bare, vec = results[0]["arena_steps_per_s"], results[1]["arena_steps_per_s"]
    ratio = vec / bare
    print(f"{'case':<34} {'arena-steps/s':>15} {'us/step':>10}")
    for r in results:
        print(f"{r['case']:<34} {r['arena_steps_per_s']:>15,.0f} {r['us_per_step']:>10.1f}")
    verdict = "meets" if vec >= TARGET_STEPS_PER_S else "MISSES"
    print(f"vector env / bare arena at N={BATCH}: {ratio:.2f}")
    print(f"target >= {TARGET_STEPS_PER_S:,} arena-steps/s at N={BATCH}: {verdict} ({vec:,.0f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": platform.machine(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "load_average_1m": os.getloadavg()[0],
        "cases": results,
        "vector_over_bare": ratio,
        "target_arena_steps_per_s": TARGET_STEPS_PER_S,
    }, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
