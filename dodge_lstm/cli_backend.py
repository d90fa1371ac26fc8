"""`--backend arena|mujoco`: which simulator an offline command runs (`physics.backends`)."""

from __future__ import annotations

import argparse

from dodge_lstm.physics.backends import BACKENDS


def add_backend_arg(p: argparse.ArgumentParser) -> None:
    """The simulator flag."""
    p.add_argument("--backend", choices=BACKENDS, default="arena",
                   help="simulator: arena (the embedded kinematic arena, default) or mujoco "
                        "(the same throws on MuJoCo physics: rolling balls, wheels, contacts)")
    p.add_argument("--randomize-physics", type=spread, default=0.0, metavar="SPREAD",
                   help="with --backend mujoco: each world's masses, frictions and motor "
                        "strength drawn within ±SPREAD of the defaults (e.g. 0.3)")


def spread(text: str) -> float:
    """A relative spread in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text}")
    return value


def factory_from_args(args: argparse.Namespace):  # -> ArenaFactory (lazy import)
    """The simulator the flags choose; ValueError (one line) for randomised arena physics."""
    from dodge_lstm.physics.backends import arena_factory

    if args.randomize_physics and args.backend != "mujoco":
        raise ValueError("--randomize-physics needs --backend mujoco")
    return arena_factory(args.backend, args.randomize_physics)
