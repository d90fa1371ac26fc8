"""`dodge-lstm eval`: a policy's closed-loop dodge rate in parallel arenas, per scenario, and
`--write-scores` (the rates into a model's metadata JSON)."""

from __future__ import annotations

import argparse

from dodge_lstm.cli_args import positive_int
from dodge_lstm.cli_backend import add_backend_arg, factory_from_args
from dodge_lstm.cli_outcomes import add_outcome_args, ball_log_for, describe, finish_outcomes
from dodge_lstm.cli_sensing import add_sensing_args, sensing_from_args, tracker_choice
from dodge_lstm.cli_spawn import add_spawn_args, scenario_from_args


def add_eval_command(sub: argparse._SubParsersAction) -> None:
    """The `eval` sub-command's flags."""
    from dodge_lstm.core.evaluation import REPORTED_SEED

    p = sub.add_parser("eval", help="closed-loop dodge rate of a policy in parallel arenas")
    p.add_argument("--policy", default="expert",
                   help="expert | stationary | random | PATH.tflite | MODULE:CALLABLE "
                        "(default expert)")
    p.add_argument("--balls", type=positive_int, default=2000,
                   help="balls to resolve (default 2000)")
    p.add_argument("--seed", type=int, default=REPORTED_SEED,
                   help=f"random seed (default {REPORTED_SEED}, the one results are reported on)")
    p.add_argument("--arenas", type=positive_int, default=64,
                   help="parallel arenas (default 64)")
    p.add_argument("--timesteps", type=positive_int, default=None,
                   help="expected model timesteps (checked against the model's metadata)")
    add_spawn_args(p, several=True)
    add_sensing_args(p)
    add_backend_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_outcome_args(p)
    p.add_argument("--write-scores", action="store_true",
                   help="record the rates in the .tflite model's metadata JSON (`scores`)")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from dodge_lstm.core.evaluation import evaluate_scenario, scenario_table
    from dodge_lstm.core.tracking import TRACKERS
    from dodge_lstm.runtime.learned_policy import make_policy

    if args.write_scores and not args.policy.endswith(".tflite"):
        raise ValueError("--write-scores needs a .tflite --policy: scores go into its .json")
    sensing, _ = sensing_from_args(args)  # the tracker waits for the policy: a model's own
    if args.write_scores and not sensing.is_truth:
        raise ValueError("--write-scores records truth-sensing rates; drop --sensing and its "
                         "knobs")
    if args.write_scores and args.backend != "arena":
        raise ValueError("--write-scores records the arena's rates; drop --backend")
    make_arena = factory_from_args(args)
    policy = make_policy(args.policy, seed=args.seed, timesteps=args.timesteps)
    tracker = TRACKERS[tracker_choice(args, getattr(policy, "tracker", ""))]
    scenarios = [scenario_from_args(args, n) for n in args.scenario]  # all checked before running
    log = ball_log_for(args)
    if log is not None and (len(scenarios) > 1 or len(scenarios[0].components) > 1):
        raise ValueError("--outcomes/--compare take one scenario of one setting (not a "
                         "mixture): one run, one file")
    results = [evaluate_scenario(policy, sc, args.balls, seed=args.seed, arenas=args.arenas,
                                 progress=not args.json, ball_log=log, sensing=sensing,
                                 tracker=tracker, make_arena=make_arena)
               for sc in scenarios]
    compared = finish_outcomes(args, log.records()) if log is not None else None
    if args.write_scores:
        record_scores(args, results)
    if args.json:
        out = ([json.loads(r.to_json()) for r in results] if len(results) > 1
               else json.loads(results[0].to_json()) | (compared or {}))
        print(json.dumps(out))
    else:
        print(results[0].table() if len(results) == 1 else scenario_table(results))
        if compared is not None:
            print(describe(compared))
    return 0 if compared is None or compared["outcomes_match"] else 1


def record_scores(args: argparse.Namespace, results: list) -> None:
    """`eval --write-scores`: the measured rates go into the model's metadata JSON (`scores`:
    `reported` for the default scenario, `scenarios` per scenario), as `sweep --export-dir`
    writes them, so a shipped model carries its closed-loop scores."""
    from dodge_lstm.core.json_io import write_json
    from dodge_lstm.runtime.model_metadata import file_score, metadata_path_for, read_metadata

    path = metadata_path_for(args.policy)
    meta = read_metadata(path, model_path=args.policy)
    scores = meta.get("scores", {}) | {"metric": "threat_dodge_rate", "arenas": args.arenas}
    for res in results:
        entry = {"seed": res.seed, "balls": res.balls,
                 "threat_dodge_rate": res.threat_dodge_rate,
                 "threat_dodge_ci95": res.threat_dodge_ci95, "dodge_rate": res.dodge_rate}
        file_score(scores, res.scenario, entry)  # res.scenario: the name with any overrides
    meta["scores"] = scores
    write_json(path, meta)
