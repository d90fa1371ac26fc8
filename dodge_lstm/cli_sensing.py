"""`--sensing PRESET` and its knobs: what the policy sees of the balls (`core.sensing`).

Knob values are checked by `SensorConfig` itself, so a negative noise, a miss probability above
1 or a field of view of 0 is refused with one line (exit 2) wherever sensing is taken.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dodge_lstm.core.sensing import SensorConfig
    from dodge_lstm.core.tracking import TrackerConfig


def add_sensing_args(p: argparse.ArgumentParser) -> None:
    """The sensing preset, its knobs and the tracker."""
    from dodge_lstm.core.sensing import PRESETS
    from dodge_lstm.core.tracking import DEFAULT_TRACKER, TRACKERS

    p.add_argument("--sensing", choices=tuple(PRESETS), default="truth",
                   help="what the policy sees: truth (the simulator's ball states, default) or "
                        "realistic (detections: 5 cm noise, 0.1 s late, 10%% missed, 0.05 "
                        "false per tick, 8 m), through the tracker")
    p.add_argument("--noise-std", type=float, default=None, help="position noise [m] per axis")
    p.add_argument("--noise-per-m", type=float, default=None,
                   help="extra noise per metre of range [m/m]")
    p.add_argument("--latency", type=float, default=None, help="detection latency [s]")
    p.add_argument("--miss", type=float, default=None, help="miss probability per ball and tick")
    p.add_argument("--false-rate", type=float, default=None,
                   help="false detections per tick (mean)")
    p.add_argument("--fov", type=float, default=None, help="field of view [deg], (0, 360]")
    p.add_argument("--range", dest="sensing_range", type=float, default=None,
                   help="detection range [m]")
    p.add_argument("--tracker", choices=tuple(TRACKERS), default=None,
                   help=f"kf: Hungarian association + constant-velocity Kalman filter; cv: the "
                        f"same with fixed alpha-beta gains; raw: the newest detection and a "
                        f"finite-difference velocity (default: the one a model trained on "
                        f"detections names in its metadata, else {DEFAULT_TRACKER})")


def add_teacher_arg(p: argparse.ArgumentParser) -> None:
    """`--teacher`: what the expert reads when it labels rows recorded through a detector."""
    from dodge_lstm.core.teachers import TEACHERS

    p.add_argument("--teacher", choices=TEACHERS, default="truth",
                   help="with --sensing, what the labelling expert reads: truth (the true "
                        "state, the privileged teacher; default), tracker (the tracked view "
                        "the rows show) or truth-tiebreak (the truth's costs, ties broken by "
                        "the tracked view's)")


def sensing_from_args(args: argparse.Namespace, model_tracker: str = ""
                      ) -> tuple[SensorConfig, TrackerConfig]:
    """The sensor and tracker the flags choose; ValueError (one line) for a bad knob. Without
    `--tracker`, the tracker a model was trained through (`model_tracker`, from its metadata:
    the graph's rule, so a score is the deployed pipeline's), else the default."""
    from dodge_lstm.core.sensing import sensor_config
    from dodge_lstm.core.tracking import TRACKERS

    return sensor_config(args.sensing, **sensing_knobs(args)), \
        TRACKERS[tracker_choice(args, model_tracker)]


def tracker_choice(args: argparse.Namespace, model_tracker: str = "") -> str:
    """`--tracker`, else the model's own, else the default tracker's name."""
    from dodge_lstm.core.tracking import DEFAULT_TRACKER

    return args.tracker or model_tracker or DEFAULT_TRACKER


def sensing_knobs(args: argparse.Namespace) -> dict[str, float]:
    """The knobs given on the command line, by `SensorConfig` field (the `ball_detector`
    parameters `sim --sensing` sets)."""
    given = {"noise_std": args.noise_std, "noise_per_m": args.noise_per_m,
             "latency": args.latency, "miss": args.miss, "false_rate": args.false_rate,
             "fov": args.fov, "range": args.sensing_range}
    return {k: float(v) for k, v in given.items() if v is not None}
