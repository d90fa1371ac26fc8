"""`--scenario` and the spawner flags of `dodge-lstm`, and the scenario they select.

Every sub-command that throws balls (eval, dataset, sweep, dagger, render, sim) takes the same
flags: a named scenario of `core.scenarios.SCENARIOS`, each component of it overridable.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from dodge_lstm.cli_args import positive_float, positive_int, scenario_list, scenario_name
from dodge_lstm.core.config import TARGETING_MODES, SpawnConfig

if TYPE_CHECKING:
    from dodge_lstm.core.scenarios import Scenario


def add_spawn_args(p: argparse.ArgumentParser, *, several: bool = False) -> None:
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


def scenario_from_args(args: argparse.Namespace, name: str | None = None) -> Scenario:
    """The named (or only) scenario with the command line's overrides applied."""
    from dodge_lstm.core.scenarios import scenario

    distance_max = 0.0 if args.distance is not None else None  # a given distance is fixed
    return scenario(name or args.scenario).with_overrides(
        targeting=args.targeting, num_balls=args.num_balls, speed_min=args.speed_min,
        speed_max=args.speed_max, distance=args.distance, distance_max=distance_max)


def spawn_config_from_args(args: argparse.Namespace) -> SpawnConfig:
    """One spawner setting (`render`): a mixture is refused with a message."""
    return scenario_from_args(args).single
