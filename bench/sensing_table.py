"""Threat dodge rate of every baseline and shipped model under each sensing (issue 16).

Rows: the expert on ground truth (the ceiling), the expert on raw detections (the newest
detection, finite-difference velocity), the expert on each tracker (Hungarian association and a
constant-velocity filter with fixed alpha-beta gains, `cv`, or a Kalman filter, `kf`: the
pipeline a robotics engineer builds first), and the shipped models on the default tracker (`kf`):
the one trained on detections (`default_sensing.tflite`) and those trained on exact states.
Columns: `truth`, `realistic`, and position noise alone at 2, 5 and 10 cm. Same seed and scenario
everywhere; each cell is `dodge-lstm eval --policy P --sensing S [--noise-std M] [--tracker
raw|cv|kf] --balls N --seed 7`. Prints a markdown table, writes JSON and a plot of
threat dodge rate against noise.

    .venv/bin/python bench/sensing_table.py [--balls 2000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from dodge_lstm.core.evaluation import REPORTED_SEED, evaluate
from dodge_lstm.core.sensing import PRESETS, SensorConfig
from dodge_lstm.core.tracking import TrackerConfig
from dodge_lstm.resources import resolve_model
from dodge_lstm.runtime.learned_policy import make_policy

COLUMNS: dict[str, SensorConfig] = {
    "truth": PRESETS["truth"],
    "realistic": PRESETS["realistic"],
    "σ 2 cm": SensorConfig(noise_std=0.02),
    "σ 5 cm": SensorConfig(noise_std=0.05),
    "σ 10 cm": SensorConfig(noise_std=0.10),
}
NOISE_M = {"truth": 0.0, "σ 2 cm": 0.02, "σ 5 cm": 0.05, "σ 10 cm": 0.10}


def rows() -> list[tuple[str, str, TrackerConfig]]:
    """(label, policy spec, tracker) per row; on `truth` the tracker is not used."""
    models = [("`default_sensing.tflite`", str(resolve_model("", detections=True))),
              ("`default.tflite`", str(resolve_model("", None, None))),
              ("`lstm_t5_u15`", str(resolve_model("", 5, 15))),
              ("`lstm_t1_u32`", str(resolve_model("", 1, 32)))]
    return ([("expert, raw detections", "expert", TrackerConfig.raw()),
             ("expert, alpha-beta tracker (`cv`)", "expert", TrackerConfig.alpha_beta()),
             ("expert, Kalman tracker (`kf`)", "expert", TrackerConfig())]
            + [(f"{label}, `kf`", spec, TrackerConfig()) for label, spec in models])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sensing_table.json"))
    parser.add_argument("--plot", type=Path, default=Path("docs/results/sensing_noise.png"))
    args = parser.parse_args()
    table: dict[str, dict[str, dict]] = {}
    cells = [(r, c) for r in rows() for c in COLUMNS]
    for (label, spec, tracker), column in tqdm(cells, unit="cell"):
        res = evaluate(make_policy(spec, seed=args.seed), args.balls, seed=args.seed,
                       sensing=COLUMNS[column], tracker=tracker)
        table.setdefault(label, {})[column] = json.loads(res.to_json())
    print("| policy, what it sees | " + " | ".join(COLUMNS) + " |")
    print("| --- |" + " ---: |" * len(COLUMNS))
    for label, cols in table.items():
        cells_md = []
        for column in COLUMNS:
            r = cols[column]
            lo, hi = r["threat_dodge_ci95"]
            cells_md.append(f"{r['threat_dodge_rate']:.1%} ({lo:.1%}–{hi:.1%})")
        print(f"| {label} | " + " | ".join(cells_md) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"balls": args.balls, "seed": args.seed, "table": table},
                                   indent=2))
    print(f"wrote {args.out}")
    plot(table, args.plot)


def plot(table: dict[str, dict[str, dict]], path: Path) -> None:
    """Threat dodge rate against position noise, one line per row, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    xs = [100 * NOISE_M[c] for c in NOISE_M]
    for label, cols in table.items():
        ys = [100 * cols[c]["threat_dodge_rate"] for c in NOISE_M]
        lo = [100 * cols[c]["threat_dodge_ci95"][0] for c in NOISE_M]
        hi = [100 * cols[c]["threat_dodge_ci95"][1] for c in NOISE_M]
        ax.errorbar(xs, ys, yerr=[[y - a for y, a in zip(ys, lo, strict=True)],
                                  [b - y for y, b in zip(ys, hi, strict=True)]],
                    marker="o", capsize=3, label=label.replace("`", ""))
    ax.set_xlabel("position noise σ per axis [cm] (no latency, misses or clutter)")
    ax.set_ylabel("threat dodge rate [%]")
    ax.set_title("Dodging through a noisy detector (2000 balls, seed 7)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
