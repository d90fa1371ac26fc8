"""`dodge-lstm`: the offline pipeline (dataset, train, convert, sweep, eval, render) and `sim`.

Heavy imports (TensorFlow, rclpy, matplotlib) happen inside the sub-command that needs them, so
`dodge-lstm eval` starts in a fraction of a second on a machine without TensorFlow.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dodge_lstm.cli_args import (
    existing_file,
    int_list,
    non_negative_float,
    output_file,
    positive_float,
    positive_int,
    scenario_list,
    scenario_name,
    seed_list,
)
from dodge_lstm.core.config import TARGETING_MODES, SpawnConfig

if TYPE_CHECKING:
    from dodge_lstm.core.scenarios import Scenario
    from dodge_lstm.ros.bringup.options import SimOptions


def _spawn_args(p: argparse.ArgumentParser, *, several: bool = False) -> None:
    """`--scenario` and the spawner settings that override it (every component of it)."""
    from dodge_lstm.core.scenarios import SCENARIOS

    names = ", ".join(SCENARIOS)
    p.add_argument("--scenario", type=scenario_list if several else scenario_name,
                   default=["default"] if several else "default",
                   help=(f"comma list of scenarios, one result each: {names}" if several else
                         f"ball-throwing scenario: {names}") + " (default: default)")
    p.add_argument("--targeting", choices=TARGETING_MODES, default=None,
                   help="how balls are aimed (overrides the scenario)")
    p.add_argument("--num-balls", type=positive_int, default=None,
                   help="balls alive at once (overrides the scenario)")
    p.add_argument("--speed-min", type=positive_float, default=None,
                   help="smallest ball speed [m/s] (overrides the scenario)")
    p.add_argument("--speed-max", type=positive_float, default=None,
                   help="largest ball speed [m/s] (overrides the scenario)")
    p.add_argument("--distance", type=positive_float, default=None,
                   help="spawn distance [m] (overrides the scenario; fixes the distance)")


def _scenario(args: argparse.Namespace, name: str | None = None) -> Scenario:
    """The named (or only) scenario with the command line's overrides applied."""
    from dodge_lstm.core.scenarios import scenario

    distance_max = 0.0 if args.distance is not None else None  # a given distance is fixed
    return scenario(name or args.scenario).with_overrides(
        targeting=args.targeting, num_balls=args.num_balls, speed_min=args.speed_min,
        speed_max=args.speed_max, distance=args.distance, distance_max=distance_max)


def _spawn_cfg(args: argparse.Namespace) -> SpawnConfig:
    """One spawner setting (`render`): a mixture is refused with a message."""
    return _scenario(args).single


def cmd_eval(args: argparse.Namespace) -> int:
    import json

    from dodge_lstm.core.evaluation import evaluate_scenario, scenario_table
    from dodge_lstm.runtime.learned_policy import make_policy

    if args.write_scores and not args.policy.endswith(".tflite"):
        raise ValueError("--write-scores needs a .tflite --policy: scores go into its .json")
    policy = make_policy(args.policy, seed=args.seed, timesteps=args.timesteps)
    scenarios = [_scenario(args, name) for name in args.scenario]  # all checked before running
    results = [evaluate_scenario(policy, sc, args.balls, seed=args.seed, arenas=args.arenas,
                                 progress=not args.json) for sc in scenarios]
    if args.write_scores:
        record_scores(args, results)
    if args.json:
        print(results[0].to_json() if len(results) == 1 else
              json.dumps([json.loads(r.to_json()) for r in results]))
    else:
        print(results[0].table() if len(results) == 1 else scenario_table(results))
    return 0


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


def cmd_dataset(args: argparse.Namespace) -> int:
    from dodge_lstm.core.dataset import record_scenario

    if args.label_topic is not None and args.bag is None:
        raise ValueError("--label-topic needs --bag: arena recordings are expert-labelled")
    if args.bag is not None:
        from dodge_lstm.bags.bag_dataset import recording_from_bags

        rec = recording_from_bags(args.bag, namespace=args.namespace, num_slots=args.slots,
                                  label_topic=args.label_topic or "cmd_vel")
        print(f"labels from {rec.meta['label_topic']} (by {rec.meta['label_pairing']}, "
              f"{rec.meta['missing_labels']} rows without an answer)")
    else:
        rec = record_scenario(_scenario(args), args.episodes, seed=args.seed,
                              episode_s=args.episode_seconds, num_slots=args.slots,
                              progress=True)
    if args.mirror:
        rec = rec.mirrored()
    path = rec.save(args.out)
    n_ep = len(set(rec.episode.tolist()))
    print(f"wrote {path}: {rec.features.shape[0]} rows, {n_ep} episodes, "
          f"{rec.num_features} features{' (mirrored)' if args.mirror else ''}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.train_config import train_config_from_args
    from dodge_lstm.learning.training import train_dataset

    cfg = train_config_from_args(args)
    res = train_dataset(args.data, cfg, out_dir=args.out)
    eval_loss = "n/a" if res.eval_loss is None else f"{res.eval_loss:.5f}"
    print(f"trained t{cfg.timesteps}/u{cfg.units} in {res.seconds:.0f} s "
          f"({res.epochs_run} epochs, best {res.best_epoch}): train loss {res.train_loss:.5f}, "
          f"eval loss {eval_loss}\nwrote {res.model_path}, {res.history_path}, "
          f"{res.plot_path}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.conversion import check_windows_for, convert

    windows = check_windows_for(Path(args.model_dir), args.data)
    rep = convert(args.model_dir, args.out, check_windows=windows)
    print(f"wrote {rep.tflite_path} ({rep.tflite_bytes} bytes, route {rep.route}) and "
          f"{rep.metadata_path}; TFLite vs Keras max |diff| {rep.max_abs_err:.2e} on "
          f"{rep.n_checked} windows")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    if args.still is not None:
        return render_still(args)
    from dodge_lstm.viz.episode_gif import render_gif

    if args.bag is not None:
        from dodge_lstm.bags.bag_trace import trace_from_bag

        trace = trace_from_bag(args.bag, namespace=args.namespace)
        title = args.bag.name
    else:
        from dodge_lstm.core.episode_trace import trace_episode
        from dodge_lstm.runtime.learned_policy import make_policy

        policy = make_policy(args.policy, seed=args.seed)
        trace = trace_episode(policy, args.seconds, args.seed, spawn_cfg=_spawn_cfg(args))
        title = policy.name
    out = render_gif(trace, args.out, title=title)
    _, hits, balls = trace.resolved[-1]
    print(f"wrote {out}: {len(trace)} frames, {balls} balls, {hits} hits in "
          f"{len(trace) * trace.dt:.1f} s")
    return 0


def render_still(args: argparse.Namespace) -> int:
    """`render --bag B --still T --out X.png`: the bag's `markers` topic at T s."""
    if args.bag is None:
        raise ValueError("--still needs --bag: it draws the markers topic of a recorded bag")
    if args.out.suffix.lower() != ".png":
        raise ValueError(f"--still writes a PNG: --out must end in .png, got {args.out}")
    from dodge_lstm.bags.bag_markers import markers_at
    from dodge_lstm.viz.marker_still import render_marker_still

    snap = markers_at(args.bag, args.still, namespace=args.namespace)
    if not snap.markers:
        raise ValueError(f"bag {args.bag}: no markers are shown {args.still:g} s after its "
                         f"first message ({snap.arrays} {snap.topic} messages before then)")
    out = render_marker_still(snap.markers, args.out, args.still,
                              title=f"{args.bag.name} {snap.topic}", stamp_s=snap.stamp_s)
    print(f"wrote {out}: {len(snap.markers)} markers of {snap.topic} at {args.still:g} s")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.sweep import run_sweep
    from dodge_lstm.learning.train_config import train_config_from_args

    cfg = train_config_from_args(args, skip=SWEEP_GRID)
    run_sweep(data=args.data, timesteps=args.timesteps, units=args.units, seeds=args.seeds,
              out_dir=args.out, config=cfg, eval_balls=args.eval_balls,
              eval_seed=args.eval_seed, selection_seed=args.selection_seed,
              address=args.address, num_cpus=args.num_cpus,
              cpus_per_trial=args.cpus_per_trial, export_dir=args.export_dir,
              scenario=_scenario(args))
    return 0


def cmd_dagger(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.dagger import run_dagger
    from dodge_lstm.learning.train_config import train_config_from_args

    if args.through_ros:
        return dagger_through_ros(args)
    if args.data is None:
        raise ValueError("--data is required (or --through-ros, which records its own)")
    config = train_config_from_args(args)
    common = {"rounds": args.rounds, "episodes": args.episodes, "scenarios": _scenario(args),
              "start_model": args.start_model}
    if args.seeds is not None or args.address is not None:
        from dodge_lstm.learning.dagger import run_dagger_seeds

        by_seed = run_dagger_seeds(seeds=args.seeds or [config.seed], data=args.data,
                                   out_dir=args.out, config=config, address=args.address,
                                   num_cpus=args.num_cpus, export=args.export, **common)
        for seed, rounds in by_seed.items():
            print(f"seed {seed}: " + ", ".join(
                f"round {r.round} {r.selection_threat_dodge_rate:.1%}" for r in rounds))
        results = [r for rounds in by_seed.values() for r in rounds]
    else:
        results = run_dagger(data=args.data, out_dir=args.out, config=config,
                             export=args.export, **common)
    best = max(results, key=lambda r: r.selection_threat_dodge_rate)
    print(f"best round {best.round}: {best.model}"
          + (f" -> exported to {args.export}" if args.export else ""))
    return 0


def dagger_through_ros(args: argparse.Namespace) -> int:
    """`dagger --through-ros`: rounds through the node graph, recorded and imported as bags."""
    from dodge_lstm.learning.ros_dagger import run_ros_dagger
    from dodge_lstm.learning.train_config import train_config_from_args

    results = run_ros_dagger(out_dir=args.out, config=train_config_from_args(args),
                             rounds=args.rounds, minutes=args.minutes,
                             initial_minutes=args.initial_minutes, seed=args.seed,
                             balls=args.eval_balls, compare_arena=args.compare_arena)
    print(f"{'loop':<6} {'round':>5} {'minutes':>7} {'rows':>7}  threat dodge rate (seed 7)")
    for r in results:
        print(f"{r.loop:<6} {r.round:>5} {r.minutes:>7g} {r.dataset_rows:>7}  "
              f"{r.threat_dodge_rate:.2%}")
    print(f"wrote {args.out / 'ros_dagger.json'} and {args.out / 'dagger_curves.png'}")
    return 0


SWEEP_GRID = ("timesteps", "units", "seed")
"""TrainConfig fields the sweep takes as comma lists (its grid) instead of single values."""


def sim_options(args: argparse.Namespace) -> SimOptions:
    """The `SimOptions` of parsed `sim` flags; the spawner gets only what the scenario and its
    overrides change, so a parameters file's own spawner settings stand otherwise."""
    from dodge_lstm.ros.bringup.options import SimOptions

    spawn = _scenario(args).single
    default = SpawnConfig()
    return SimOptions(duration=args.duration, policy=args.policy, timesteps=args.timesteps,
                      units=args.units, model=args.model or "",
                      spawn={f.name: getattr(spawn, f.name) for f in dataclasses.fields(spawn)
                             if getattr(spawn, f.name) != getattr(default, f.name)},
                      record=str(args.record) if args.record else "",
                      params_file=str(args.params_file) if args.params_file else "",
                      real_time_factor=args.real_time_factor, seed=args.seed,
                      processes=args.processes, lockstep=args.lockstep, balls=args.balls,
                      stamped=args.stamped, label=args.label or "", progress=True)


def cmd_sim(args: argparse.Namespace) -> int:
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.report import format_summary, summary_json

    opts = sim_options(args)
    summary = run_sim(opts)
    print(summary_json(summary) if args.json else format_summary(summary))
    return 0 if summary.get("policy_state") in ("active", "unmanaged") else 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from dodge_lstm.core.evaluation import REPORTED_SEED, SELECTION_SEED

    parser = argparse.ArgumentParser(prog="dodge-lstm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

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
    _spawn_args(p, several=True)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--write-scores", action="store_true",
                   help="record the rates in the .tflite model's metadata JSON (`scores`)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("dataset", help="expert-labelled recordings from the arena or a bag")
    p.add_argument("--episodes", type=positive_int, default=512, help="episodes (default 512)")
    p.add_argument("--episode-seconds", type=positive_float, default=30.0,
                   help="simulated seconds per episode (default 30)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--bag", type=Path, nargs="+", default=None,
                   help="build the dataset from rosbag2 bags (MCAP or sqlite3, one episode "
                        "each) instead of the arena")
    p.add_argument("--namespace", default="", help="namespace of the recorded topics")
    p.add_argument("--label-topic", default=None, metavar="TOPIC",
                   help="with --bag: take labels from this topic instead of cmd_vel, e.g. "
                        "expert/cmd_vel of a `sim --label expert` run (TwistStamped: paired "
                        "with rows exactly by stamp)")
    p.add_argument("--mirror", action="store_true",
                   help="add the fore/aft mirror image of every episode")
    p.add_argument("--slots", type=positive_int, default=2,
                   help="ball slots per row, 4 features each; balls beyond them are not seen "
                        "(default 2, the 2020 project's)")
    p.add_argument("--out", type=output_file, required=True, help="output .npz")
    _spawn_args(p)
    p.set_defaults(func=cmd_dataset)

    # Training options come from TrainConfig's fields: its defaults are the only ones.
    from dodge_lstm.learning.train_config import add_train_config_args

    p = sub.add_parser("train", help="train a Keras LSTM on a dataset")
    p.add_argument("--data", type=existing_file, required=True, help="dataset .npz")
    add_train_config_args(p)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("convert", help="convert a trained model to TFLite (checked)")
    p.add_argument("model_dir", type=Path, help="directory written by `train` (or a .keras)")
    p.add_argument("--out", type=output_file, required=True, help="output .tflite")
    p.add_argument("--data", type=existing_file, default=None,
                   help="dataset for the 1000 check windows (default: fresh expert episodes)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("sweep", help="Ray Tune trials over (timesteps, units) x seeds, scored "
                                     "by the closed-loop threat dodge rate")
    p.add_argument("--data", type=existing_file, required=True,
                   help="dataset .npz (on a cluster: the same path on every node)")
    p.add_argument("--timesteps", type=int_list, default=[1, 3, 5, 8, 10],
                   help="comma list (default 1,3,5,8,10)")
    p.add_argument("--units", type=int_list, default=[4, 8, 15, 20, 32],
                   help="comma list (default 4,8,15,20,32)")
    p.add_argument("--seeds", type=seed_list, default=[0],
                   help="comma list of training seeds; each pair keeps its best (default 0)")
    add_train_config_args(p, skip=SWEEP_GRID)
    p.add_argument("--eval-balls", type=positive_int, default=2000,
                   help="balls per closed-loop evaluation, selection and reported (default 2000)")
    _spawn_args(p)  # how the evaluations throw balls: the objective's scenario
    p.add_argument("--selection-seed", type=int, default=SELECTION_SEED,
                   help=f"evaluation seed that ranks each pair's seeds (default {SELECTION_SEED})")
    p.add_argument("--eval-seed", type=int, default=REPORTED_SEED,
                   help=f"reported evaluation seed, seen by no choice (default {REPORTED_SEED})")
    p.add_argument("--address", default=None,
                   help="Ray cluster to run on: auto (`ray start` on this node), HEAD:6379 "
                        "or ray://HEAD:10001 (default: a private local Ray instance)")
    p.add_argument("--num-cpus", type=positive_int, default=None,
                   help="CPUs of the local Ray instance (default: all; not with --address)")
    p.add_argument("--cpus-per-trial", type=positive_int, default=1,
                   help="CPUs (and TensorFlow threads) per trial (default 1)")
    p.add_argument("--out", type=Path, required=True,
                   help="output directory; Ray Tune's trials go to OUT/trials")
    p.add_argument("--export-dir", type=Path, default=None,
                   help="copy each pair's kept model here as lstm_tN_uU.tflite (+ .json with "
                        "its scores)")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("dagger", help="behaviour cloning + DAgger rounds, keep the best model")
    p.add_argument("--data", type=existing_file, default=None,
                   help="expert dataset .npz (round 0); required unless --through-ros")
    p.add_argument("--start-model", type=existing_file, default=None,
                   help="a model already trained on --data (e.g. an earlier chain's best "
                        "round): round 0 is this model, not retrained")
    p.add_argument("--through-ros", action="store_true",
                   help="run the rounds through the ROS node graph in lockstep: round 0 records "
                        "the expert driving, later rounds the model driving with the expert "
                        "labelling in shadow on expert/cmd_vel; every round is a recorded bag")
    p.add_argument("--minutes", type=positive_float, default=10.0,
                   help="--through-ros: simulated minutes recorded per round (default 10)")
    p.add_argument("--initial-minutes", type=positive_float, default=10.0,
                   help="--through-ros: minutes of the expert driving in round 0 (default 10)")
    p.add_argument("--compare-arena", action="store_true",
                   help="--through-ros: also run arena DAgger from the same round-0 recording "
                        "with the same minutes per round")
    p.add_argument("--eval-balls", type=positive_int, default=2000,
                   help="--through-ros: balls per evaluation (default 2000)")
    p.add_argument("--rounds", type=int, default=3, help="DAgger rounds after round 0 (3)")
    p.add_argument("--episodes", type=positive_int, default=512,
                   help="episodes added per round (512)")
    add_train_config_args(p)  # --seed also seeds the DAgger episodes
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--export", type=output_file, default=None,
                   help="copy the best model (and its .json) here, e.g. models/lstm_t5_u15.tflite")
    p.add_argument("--seeds", type=seed_list, default=None,
                   help="run one DAgger chain per seed as Ray tasks (overrides --seed) and "
                        "export the best round over all of them")
    p.add_argument("--address", default=None,
                   help="Ray cluster to run the seeds on (auto, HEAD:6379 or ray://HEAD:10001; "
                        "default: a local Ray instance)")
    p.add_argument("--num-cpus", type=positive_int, default=None,
                   help="CPUs of the local Ray instance (default: all)")
    _spawn_args(p)  # the DAgger episodes and the selection evaluation
    p.set_defaults(func=cmd_dagger)

    p = sub.add_parser("render", help="animated GIF of one arena episode or a recorded bag")
    p.add_argument("--policy", default="expert",
                   help="expert | stationary | random | PATH.tflite | MODULE:CALLABLE "
                        "(default expert)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--seconds", type=positive_float, default=15.0,
                   help="episode length (default 15)")
    p.add_argument("--bag", type=Path, default=None,
                   help="draw this rosbag2 bag (directory, .mcap or .db3) instead of an arena "
                        "episode: odom, balls/odom, balls/outcome and cmd_vel")
    p.add_argument("--namespace", default="", help="namespace of the recorded topics (--bag)")
    p.add_argument("--still", type=non_negative_float, default=None, metavar="SECONDS",
                   help="with --bag: write a PNG of the markers topic (what rviz shows, seen "
                        "from above) at this bag time (seconds from the bag's first message) "
                        "instead of a GIF")
    p.add_argument("--out", type=output_file, required=True,
                   help="output .gif (.mp4 where ffmpeg is installed; .png with --still)")
    _spawn_args(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("sim", help="the sim.launch.py graph in one process, without launch")
    p.add_argument("--duration", type=positive_float, default=30.0,
                   help="simulated seconds to run (default 30)")
    p.add_argument("--policy", choices=("lstm", "expert"), default="lstm",
                   help="who drives: the TFLite LSTM (lifecycle node) or the expert")
    p.add_argument("--timesteps", type=positive_int, default=None,
                   help="with --units: run the grid model models/lstm_t<N>_u<U>.tflite (the "
                        "other defaults to 5 or 15); neither: the default model, "
                        "models/default.tflite")
    p.add_argument("--units", type=positive_int, default=None, help="LSTM units (see above)")
    p.add_argument("--model", default=None,
                   help="a .tflite path (default: see --timesteps)")
    p.add_argument("--record", type=Path, default=None, help="record a rosbag2 (MCAP) bag here")
    p.add_argument("--params-file", type=existing_file, default=None,
                   help="parameters YAML (default: the package's params/dodge_lstm.yaml)")
    p.add_argument("--real-time-factor", type=positive_float, default=1.0,
                   help="simulated seconds per wall second (default 1)")
    p.add_argument("--seed", type=int, default=0, help="ball spawner seed (default 0)")
    p.add_argument("--processes", action="store_true",
                   help="one process per node, as `ros2 launch` runs them (default: one process)")
    p.add_argument("--lockstep", action="store_true",
                   help="the simulator steps when the driver has answered: as fast as the graph "
                        "can go, independent of machine load (--real-time-factor is ignored)")
    p.add_argument("--balls", type=positive_int, default=None,
                   help="stop after exactly N resolved balls instead of after --duration")
    p.add_argument("--stamped", action="store_true",
                   help="cmd_vel as geometry_msgs/TwistStamped (nav2's default) instead of Twist")
    p.add_argument("--label", choices=("expert",), default=None,
                   help="with --policy lstm: a shadow expert answers every tick on "
                        "expert/cmd_vel (TwistStamped, stamped with the odom it answers) while "
                        "the LSTM drives; recorded with --record, for `dataset --label-topic "
                        "expert/cmd_vel` (DAgger through ROS)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _spawn_args(p)  # the spawner's settings: a one-setting scenario and its overrides
    p.set_defaults(func=cmd_sim)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `dodge-lstm` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, OSError, RuntimeError) as exc:
        print(f"dodge-lstm {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
