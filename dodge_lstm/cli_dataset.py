"""`dodge-lstm dataset`: expert-labelled recordings from the arena, or from rosbag2 bags."""

from __future__ import annotations

import argparse
from pathlib import Path

from dodge_lstm.cli_args import output_file, positive_float, positive_int
from dodge_lstm.cli_backend import add_backend_arg, factory_from_args
from dodge_lstm.cli_sensing import (
    add_sensing_args,
    add_teacher_arg,
    sensing_from_args,
    tracker_choice,
)
from dodge_lstm.cli_spawn import add_spawn_args, scenario_from_args


def add_dataset_command(sub: argparse._SubParsersAction) -> None:
    """The `dataset` sub-command's flags."""
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
    p.add_argument("--from-detections", action="store_true",
                   help="with --bag: rows from the recorded balls/detections through --tracker "
                        "(a run with --sensing), as the feature node builds them when the "
                        "graph senses, instead of from balls/odom")
    p.add_argument("--mirror", action="store_true",
                   help="add the fore/aft mirror image of every episode")
    p.add_argument("--slots", type=positive_int, default=2,
                   help="ball slots per row, 4 features each; balls beyond them are not seen "
                        "(default 2, the 2020 project's)")
    p.add_argument("--out", type=output_file, required=True, help="output .npz")
    add_spawn_args(p)
    add_sensing_args(p)  # rows through a detector, labels from the true state
    add_teacher_arg(p)
    add_backend_arg(p)
    p.set_defaults(func=cmd_dataset)


def cmd_dataset(args: argparse.Namespace) -> int:
    from dodge_lstm.core.dataset import record_scenario

    if args.from_detections and args.bag is None:
        raise ValueError("--from-detections needs --bag: arena recordings take --sensing")
    if args.label_topic is not None and args.bag is None:
        raise ValueError("--label-topic needs --bag: arena recordings are expert-labelled")
    sensing, tracker = sensing_from_args(args)
    if args.bag is not None and not sensing.is_truth:
        raise ValueError("--sensing applies to arena recordings; a bag holds what was recorded")
    if args.bag is not None and args.teacher != "truth":
        raise ValueError("--teacher applies to arena recordings; a bag's labels are what its "
                         "label topic recorded")
    make_arena = factory_from_args(args)
    if args.bag is not None and args.backend != "arena":
        raise ValueError("--backend applies to simulated recordings; a bag holds what was "
                         "recorded")
    if args.bag is not None:
        from dodge_lstm.bags.bag_dataset import recording_from_bags

        rec = recording_from_bags(args.bag, namespace=args.namespace, num_slots=args.slots,
                                  label_topic=args.label_topic or "cmd_vel",
                                  detections=tracker_choice(args) if args.from_detections
                                  else None)
        print(f"labels from {rec.meta['label_topic']} (by {rec.meta['label_pairing']}, "
              f"{rec.meta['missing_labels']} rows without an answer)")
    else:
        rec = record_scenario(scenario_from_args(args), args.episodes, seed=args.seed,
                              episode_s=args.episode_seconds, num_slots=args.slots,
                              progress=True, sensing=sensing, tracker=tracker,
                              make_arena=make_arena, teacher=args.teacher)
    if args.mirror:
        rec = rec.mirrored()
    path = rec.save(args.out)
    n_ep = len(set(rec.episode.tolist()))
    print(f"wrote {path}: {rec.features.shape[0]} rows, {n_ep} episodes, "
          f"{rec.num_features} features{' (mirrored)' if args.mirror else ''}")
    return 0
