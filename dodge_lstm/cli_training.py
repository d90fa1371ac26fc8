"""`dodge-lstm train`, `convert`, `sweep` and `dagger`: the sub-commands that make models.

Their training options come from `learning.train_config.TrainConfig`'s fields (its defaults are
the only ones); the learning layer, TensorFlow and Ray are imported inside the commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dodge_lstm.cli_args import (
    existing_file,
    int_list,
    output_file,
    positive_float,
    positive_int,
    seed_list,
)
from dodge_lstm.cli_backend import add_backend_arg, factory_from_args
from dodge_lstm.cli_sensing import (
    add_sensing_args,
    add_teacher_arg,
    sensing_from_args,
    sensing_knobs,
    tracker_choice,
)
from dodge_lstm.cli_spawn import add_spawn_args, scenario_from_args

SWEEP_GRID = ("timesteps", "units", "seed")
"""TrainConfig fields the sweep takes as comma lists (its grid) instead of single values."""


def add_train_command(sub: argparse._SubParsersAction) -> None:
    """The `train` sub-command's flags."""
    from dodge_lstm.learning.train_config import add_train_config_args

    p = sub.add_parser("train", help="train a Keras LSTM on a dataset")
    p.add_argument("--data", type=existing_file, required=True, help="dataset .npz")
    add_train_config_args(p)
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.set_defaults(func=cmd_train)


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


def add_convert_command(sub: argparse._SubParsersAction) -> None:
    """The `convert` sub-command's flags."""
    p = sub.add_parser("convert", help="convert a trained model to TFLite (checked)")
    p.add_argument("model_dir", type=Path, help="directory written by `train` (or a .keras)")
    p.add_argument("--out", type=output_file, required=True, help="output .tflite")
    p.add_argument("--data", type=existing_file, default=None,
                   help="dataset for the 1000 check windows (default: fresh expert episodes)")
    p.set_defaults(func=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.conversion import check_windows_for, convert

    windows = check_windows_for(Path(args.model_dir), args.data)
    rep = convert(args.model_dir, args.out, check_windows=windows)
    print(f"wrote {rep.tflite_path} ({rep.tflite_bytes} bytes, route {rep.route}) and "
          f"{rep.metadata_path}; TFLite vs Keras max |diff| {rep.max_abs_err:.2e} on "
          f"{rep.n_checked} windows")
    return 0


def add_sweep_command(sub: argparse._SubParsersAction) -> None:
    """The `sweep` sub-command's flags."""
    from dodge_lstm.core.evaluation import REPORTED_SEED, SELECTION_SEED
    from dodge_lstm.learning.train_config import add_train_config_args

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
    add_spawn_args(p)  # how the evaluations throw balls: the objective's scenario
    add_sensing_args(p)  # what the models see in every evaluation: the objective's sensing
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


def cmd_sweep(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.sweep import run_sweep
    from dodge_lstm.learning.train_config import train_config_from_args

    cfg = train_config_from_args(args, skip=SWEEP_GRID)
    sensing, tracker = sensing_from_args(args)
    run_sweep(data=args.data, timesteps=args.timesteps, units=args.units, seeds=args.seeds,
              out_dir=args.out, config=cfg, eval_balls=args.eval_balls,
              eval_seed=args.eval_seed, selection_seed=args.selection_seed,
              address=args.address, num_cpus=args.num_cpus,
              cpus_per_trial=args.cpus_per_trial, export_dir=args.export_dir,
              scenario=scenario_from_args(args), sensing=sensing, tracker=tracker)
    return 0


def add_dagger_command(sub: argparse._SubParsersAction) -> None:
    """The `dagger` sub-command's flags."""
    from dodge_lstm.learning.train_config import add_train_config_args

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
    add_spawn_args(p)  # the DAgger episodes and the selection evaluation
    add_sensing_args(p)  # what the learner sees while it drives and is scored
    add_teacher_arg(p)
    add_backend_arg(p)  # where it drives: the DAgger episodes and the selection evaluation
    p.set_defaults(func=cmd_dagger)


def cmd_dagger(args: argparse.Namespace) -> int:
    from dodge_lstm.learning.dagger import run_dagger
    from dodge_lstm.learning.train_config import train_config_from_args

    sensing, tracker = sensing_from_args(args)
    factory_from_args(args)  # refuses a bad combination before any work
    if args.through_ros:
        if args.backend != "arena":
            raise ValueError("--through-ros drives the ROS graph's own simulator; drop "
                             "--backend")
        if args.teacher != "truth":
            raise ValueError("--through-ros labels with the shadow expert, which reads the "
                             "true balls/odom (--teacher truth); other teachers run in the "
                             "arena")
        return dagger_through_ros(args)
    if args.data is None:
        raise ValueError("--data is required (or --through-ros, which records its own)")
    config = train_config_from_args(args)
    common = {"rounds": args.rounds, "episodes": args.episodes,
              "scenarios": scenario_from_args(args), "start_model": args.start_model,
              "sensing": sensing, "tracker": tracker, "backend": args.backend,
              "teacher": args.teacher,
              "randomize": args.randomize_physics}
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
    from dodge_lstm.learning.ros_dagger import GraphSensing, run_ros_dagger
    from dodge_lstm.learning.train_config import train_config_from_args

    sensing = GraphSensing(args.sensing, tuple(sensing_knobs(args).items()),
                           tracker_choice(args))
    results = run_ros_dagger(out_dir=args.out, config=train_config_from_args(args),
                             rounds=args.rounds, minutes=args.minutes,
                             initial_minutes=args.initial_minutes, seed=args.seed,
                             balls=args.eval_balls, compare_arena=args.compare_arena,
                             sensing=sensing)
    print(f"{'loop':<6} {'round':>5} {'minutes':>7} {'rows':>7}  threat dodge rate (seed 7)")
    for r in results:
        print(f"{r.loop:<6} {r.round:>5} {r.minutes:>7g} {r.dataset_rows:>7}  "
              f"{r.threat_dodge_rate:.2%}")
    print(f"wrote {args.out / 'ros_dagger.json'} and {args.out / 'dagger_curves.png'}")
    return 0
