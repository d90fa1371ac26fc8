"""The transfer gap: policies trained in the arena, scored in the arena and in MuJoCo (issue 17).

Rows: the expert and the shipped models (or `--policies`); for each scenario (default, fast,
close, crowd) the threat dodge rate in the embedded arena and in MuJoCo on the same seed (the
same spawner draws: the same first balls), and MuJoCo's rate as a share of the arena's. Each cell
is `dodge-lstm eval --policy P --scenario S --backend arena|mujoco --balls N --seed 7`. Prints a
markdown table and the wall time of each backend, and writes JSON.

    .venv/bin/python bench/transfer_table.py [--balls 2000] [--seed 7] [--policies a,b]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from tqdm import tqdm

from dodge_lstm.core.evaluation import REPORTED_SEED, evaluate_scenario
from dodge_lstm.core.scenarios import scenario
from dodge_lstm.physics.backends import BACKENDS, arena_factory
from dodge_lstm.resources import resolve_model
from dodge_lstm.runtime.learned_policy import make_policy

SCENARIOS = ("default", "fast", "close", "crowd")


def default_policies() -> list[tuple[str, str]]:
    """(label, policy spec): the expert and the shipped models the README compares."""
    return [("expert", "expert"),
            ("`default.tflite`", str(resolve_model("", None, None))),
            ("`lstm_t5_u15`", str(resolve_model("", 5, 15))),
            ("`lstm_t1_u32`", str(resolve_model("", 1, 32)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--policies", default=None,
                        help="comma list of policy specs (default: expert and shipped models)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", type=Path, default=Path("bench/results/transfer_table.json"))
    args = parser.parse_args()
    policies = ([(p, p) for p in args.policies.split(",")] if args.policies
                else default_policies())
    names = [s for s in args.scenarios.split(",") if s]
    load = os.getloadavg()
    table: dict[str, dict[str, dict[str, dict]]] = {}
    wall = dict.fromkeys(BACKENDS, 0.0)
    sim = dict.fromkeys(BACKENDS, 0.0)
    cells = [(p, s, b) for p in policies for s in names for b in BACKENDS]
    for (label, spec), name, backend in tqdm(cells, unit="cell"):
        start = time.perf_counter()
        res = evaluate_scenario(make_policy(spec, seed=args.seed), scenario(name), args.balls,
                                seed=args.seed, make_arena=arena_factory(backend))
        wall[backend] += time.perf_counter() - start
        sim[backend] += res.sim_seconds * res.arenas
        table.setdefault(label, {}).setdefault(name, {})[backend] = json.loads(res.to_json())

    print(f"threat dodge rate, {args.balls} balls per cell, seed {args.seed}; arena → MuJoCo "
          f"(MuJoCo / arena)")
    print("| policy | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for label, by_scenario in table.items():
        cells_md = []
        for name in names:
            a, m = (by_scenario[name][b]["threat_dodge_rate"] for b in ("arena", "mujoco"))
            cells_md.append(f"{a:.1%} → {m:.1%} ({m / a:.3f})")
        print(f"| {label} | " + " | ".join(cells_md) + " |")
    for backend in BACKENDS:
        print(f"{backend}: {wall[backend]:.0f} s wall for {sim[backend]:.0f} simulated "
              f"seconds ({sim[backend] / wall[backend]:.0f}x real time, {os.cpu_count()} cores)")
    print(f"load average before: {load[0]:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "balls": args.balls, "seed": args.seed, "load_before": load,
        "wall_seconds": wall, "simulated_seconds": sim, "table": table}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
