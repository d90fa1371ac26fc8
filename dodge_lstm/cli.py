"""`dodge-lstm`: the offline pipeline (dataset, train, convert, sweep, eval, render) and `sim`.

Heavy imports (TensorFlow, rclpy, matplotlib) happen inside the sub-command that needs them, so
`dodge-lstm eval` starts in a fraction of a second on a machine without TensorFlow. The offline
sub-commands (their flags and what they run) are in `cli_eval`, `cli_dataset`,
`cli_training`, `cli_render` and `cli_sim`; the scenario flags they share in `cli_spawn`, the
argument types in `cli_args`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dodge_lstm.cli_dataset import add_dataset_command
from dodge_lstm.cli_eval import add_eval_command
from dodge_lstm.cli_render import add_render_command
from dodge_lstm.cli_sim import add_sim_command
from dodge_lstm.cli_training import (
    add_convert_command,
    add_dagger_command,
    add_sweep_command,
    add_train_command,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    parser = argparse.ArgumentParser(prog="dodge-lstm", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    add_eval_command(sub)
    add_dataset_command(sub)
    add_train_command(sub)
    add_convert_command(sub)
    add_sweep_command(sub)
    add_dagger_command(sub)
    add_render_command(sub)
    add_sim_command(sub)
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
