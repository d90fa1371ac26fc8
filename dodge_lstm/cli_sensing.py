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
    p.add_argument("--tracker", choices=("cv", "raw"), default="cv",
                   help="cv: Hungarian association + constant-velocity filter (default); raw: "
                        "the newest detection and a finite-difference velocity")


def sensing_from_args(args: argparse.Namespace) -> tuple[SensorConfig, TrackerConfig]:
    """The sensor and tracker the flags choose; ValueError (one line) for a bad knob."""
    from dodge_lstm.core.sensing import sensor_config
    from dodge_lstm.core.tracking import TRACKERS

    return sensor_config(args.sensing, **sensing_knobs(args)), TRACKERS[args.tracker]


def sensing_knobs(args: argparse.Namespace) -> dict[str, float]:
    """The knobs given on the command line, by `SensorConfig` field (the `ball_detector`
    parameters `sim --sensing` sets)."""
    given = {"noise_std": args.noise_std, "noise_per_m": args.noise_per_m,
             "latency": args.latency, "miss": args.miss, "false_rate": args.false_rate,
             "fov": args.fov, "range": args.sensing_range}
    return {k: float(v) for k, v in given.items() if v is not None}
