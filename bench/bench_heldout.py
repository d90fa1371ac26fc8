"""Held-out closed-loop table: models against the expert off the 2020 training distribution.

Why: a model that dodges the setting it was trained on can still fail when balls come faster,
closer, more at once or from elsewhere. Every cell is `dodge-lstm eval` on a seed no model was
selected on (default 7, 2000 balls): each targeting mode with 1-3 balls, then the `default`,
`fast`, `close`, `crowd`, `random` and `mixed` scenarios, for the expert and each model, plus
each model's share of the expert's rate. Prints a Markdown table and writes JSON.

    .venv/bin/python bench/bench_heldout.py [--models models/default.tflite,...]
        [--balls 2000] [--seed 7] [--out bench/results/heldout.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, str(REPO))

from dodge_lstm.core.evaluation import REPORTED_SEED  # noqa: E402 (numpy only)

SCENARIO_ROWS = ("default", "fast", "close", "crowd", "random", "mixed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="models/default.tflite,models/lstm_t5_u15.tflite",
                        help="comma list of .tflite models")
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/heldout.json")
    args = parser.parse_args()

    from tqdm import tqdm

    from dodge_lstm.core.config import TARGETING_MODES
    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.core.expert import ExpertPolicy
    from dodge_lstm.core.scenarios import scenario
    from dodge_lstm.runtime.learned_policy import LearnedPolicy

    cases = [(f"{mode}, {n} ball{'s' * (n > 1)}",
              scenario("default").with_overrides(targeting=mode, num_balls=n))
             for mode in TARGETING_MODES for n in (1, 2, 3)]
    cases += [(f"scenario {name}", scenario(name)) for name in SCENARIO_ROWS]
    models = [Path(m) for m in args.models.split(",") if m]
    policies = [("expert", ExpertPolicy())] + [(m.name, LearnedPolicy(m)) for m in models]
    rows = []
    for label, sc in tqdm(cases, desc="held-out", unit="case"):
        row = {"case": label, "scenario": sc.name, "description": sc.description}
        for name, policy in policies:
            res = evaluate_scenario(policy, sc, args.balls, seed=args.seed)
            row[name] = {"threat_dodge_rate": res.threat_dodge_rate,
                         "threat_dodge_ci95": res.threat_dodge_ci95,
                         "threat_balls": res.threat_balls}
        rows.append(row)

    head = ["case", "expert"] + [f"{m.name} (of expert)" for m in models]
    print("| " + " | ".join(head) + " |")
    print("| --- |" + " ---: |" * (len(head) - 1))
    for row in rows:
        expert = row["expert"]["threat_dodge_rate"]
        cells = [row["case"], f"{expert:.1%}"]
        for m in models:
            rate = row[m.name]["threat_dodge_rate"]
            cells.append(f"{rate:.1%} ({rate / expert:.1%})")
        print("| " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seed": args.seed, "balls": args.balls,
                                    "models": [str(m) for m in models], "rows": rows},
                                   indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
