"""`--outcomes FILE.csv` and `--compare FILE.csv` of `dodge-lstm eval` and `dodge-lstm sim`:
every ball of the run written, and diffed against another run's file (`core.ball_records`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from dodge_lstm.cli_args import existing_file
from dodge_lstm.core.ball_records import (
    BallLog,
    BallRecord,
    first_difference,
    read_csv,
    write_csv,
)


def add_outcome_args(p: argparse.ArgumentParser) -> None:
    """The two flags."""
    p.add_argument("--outcomes", type=Path, default=None, metavar="FILE.csv",
                   help="write every ball (id, spawn tick, position, velocity, threat, "
                        "outcome, tick) to this CSV")
    p.add_argument("--compare", type=existing_file, default=None, metavar="FILE.csv",
                   help="compare this run's balls with another run's --outcomes file: say "
                        "whether they match and where they first differ (exit 1 if not)")


def ball_log_for(args: argparse.Namespace) -> BallLog | None:
    """A log to fill if the run writes or compares its balls, else None (no per-ball cost)."""
    return BallLog() if args.outcomes is not None or args.compare is not None else None


def finish_outcomes(args: argparse.Namespace, records: list[BallRecord]) -> dict | None:
    """Write and/or compare; returns `{"outcomes_match": bool, "first_difference": str|None,
    "compared_with": path}` when comparing, else None."""
    if args.outcomes is not None:
        write_csv(records, args.outcomes)
    if args.compare is None:
        return None
    difference = first_difference(records, read_csv(args.compare))
    return {"outcomes_match": difference is None, "first_difference": difference,
            "compared_with": str(args.compare)}


def describe(result: dict) -> str:
    """One line for people."""
    if result["outcomes_match"]:
        return f"outcomes match {result['compared_with']} ball for ball"
    return f"outcomes differ from {result['compared_with']}: {result['first_difference']}"
