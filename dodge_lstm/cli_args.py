"""Argument types of the `dodge-lstm` command line.

Bad input is refused by argparse itself: one line naming the flag, exit code 2, before any
work is done or any file written (never a traceback from deep inside a command).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def int_list(text: str, minimum: int = 1) -> list[int]:
    """A comma list of whole numbers >= `minimum`, e.g. `1,3,5`."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers like "
            f"{'0,1,2' if minimum == 0 else '1,3,5'}, got {text!r}") from None
    if not values or min(values) < minimum:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= {minimum}, got {text!r}")
    return values


def seed_list(text: str) -> list[int]:
    """A comma list of seeds (whole numbers >= 0), e.g. `0,1,2`."""
    return int_list(text, minimum=0)


def output_file(text: str) -> Path:
    """A file to write: not an existing directory, and its folder not a file."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give a file name")
    if any(parent.exists() and not parent.is_dir() for parent in path.parents):
        raise argparse.ArgumentTypeError(f"{text}: a parent of it is a file, not a folder")
    return path


def existing_file(text: str) -> Path:
    """A file that exists."""
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no such file: {text}")
    return path


def scenario_name(text: str) -> str:
    """A scenario of `core.scenarios.SCENARIOS`."""
    from dodge_lstm.core.scenarios import SCENARIOS

    if text not in SCENARIOS:
        raise argparse.ArgumentTypeError(f"unknown scenario {text!r}; choose from "
                                         f"{', '.join(SCENARIOS)}")
    return text


def scenario_list(text: str) -> list[str]:
    """A comma list of scenarios, e.g. `default,fast,close`."""
    names = [scenario_name(t.strip()) for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected at least one scenario")
    return names
