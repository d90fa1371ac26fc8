"""Every ball of a run, one row each: how it was thrown and how it ended.

`dodge-lstm eval --outcomes FILE.csv` writes the arena's balls, `dodge-lstm sim --outcomes
FILE.csv` the ROS graph's (read from its topics), in one format, so a graph run and an arena
run can be diffed ball by ball (`first_difference`): the lockstep graph is meant to be the
arena's exact twin, and a rate inside the other's interval can hide a one-tick shift.

A row: arena, ball id (per arena; the ROS simulator names it `ball_<id>`), the tick it was
first seen and where (world frame, metres) and how fast (m/s), whether it was a threat (it
would have hit a robot standing still), `hit` or `passed`, and the tick it was resolved. Floats
are written with `repr`, so a file read back compares exactly.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BallRecord:
    """One resolved ball."""

    arena: int
    ball: int
    spawn_tick: int
    x: float
    y: float
    vx: float
    vy: float
    threat: bool
    outcome: str
    tick: int

    @property
    def key(self) -> tuple[int, int, int]:
        """Resolution order: tick, then arena, then ball."""
        return self.tick, self.arena, self.ball


COLUMNS = tuple(f.name for f in fields(BallRecord))


class BallLog:
    """Collects spawns and resolutions as they happen; `records()` pairs them."""

    def __init__(self) -> None:
        self._spawned: dict[tuple[int, int], tuple[int, float, float, float, float]] = {}
        self._records: list[BallRecord] = []

    def spawned(self, arena: int, ball: int, tick: int, pos: Iterable[float],
                vel: Iterable[float]) -> None:
        """A ball first seen at `tick` (kept: a ball is logged once, where it first appeared)."""
        x, y = (float(v) for v in pos)
        vx, vy = (float(v) for v in vel)
        self._spawned.setdefault((int(arena), int(ball)), (int(tick), x, y, vx, vy))

    def spawned_many(self, arena: np.ndarray, ball: np.ndarray, tick: int, pos: np.ndarray,
                     vel: np.ndarray) -> None:
        for a, b, p, v in zip(arena, ball, pos, vel, strict=True):
            self.spawned(int(a), int(b), tick, p, v)

    def knows(self, arena: int, ball: int) -> bool:
        """True if the ball was seen spawning and has not been resolved yet."""
        return (int(arena), int(ball)) in self._spawned

    def resolved(self, arena: int, ball: int, hit: bool, threat: bool, tick: int) -> None:
        """A ball resolved at `tick`; ValueError if it was never seen spawning."""
        key = (int(arena), int(ball))
        if key not in self._spawned:
            raise ValueError(f"ball {ball} of arena {arena} resolved but never seen spawning")
        spawn_tick, x, y, vx, vy = self._spawned.pop(key)
        self._records.append(BallRecord(key[0], key[1], spawn_tick, x, y, vx, vy, bool(threat),
                                        "hit" if hit else "passed", int(tick)))

    def records(self, limit: int | None = None) -> list[BallRecord]:
        """The resolved balls in resolution order (the first `limit` of them)."""
        return sorted(self._records, key=lambda r: r.key)[:limit]


def write_csv(records: Iterable[BallRecord], path: str | Path) -> Path:
    """Write records as CSV with a header; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(COLUMNS)
        for r in records:
            out.writerow([repr(v) if isinstance(v, float) else int(v) if isinstance(v, bool)
                          else v for v in astuple(r)])
    return path


def read_csv(path: str | Path) -> list[BallRecord]:
    """Read a file `write_csv` wrote; ValueError (naming the line) if it is not one."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows or tuple(rows[0]) != COLUMNS:
        raise ValueError(f"{path} is not a ball outcomes file (header must be "
                         f"{','.join(COLUMNS)})")
    records = []
    for line, row in enumerate(rows[1:], start=2):
        try:
            a, b, st, x, y, vx, vy, threat, outcome, tick = row
            records.append(BallRecord(int(a), int(b), int(st), float(x), float(y), float(vx),
                                      float(vy), bool(int(threat)), outcome, int(tick)))
        except ValueError as exc:
            raise ValueError(f"{path}:{line}: not a ball outcome row ({exc})") from None
    return records


def first_difference(a: list[BallRecord], b: list[BallRecord]) -> str | None:
    """None if the two runs threw and resolved the same balls; else where they first part."""
    for i, (ra, rb) in enumerate(zip(a, b)):
        if ra != rb:
            cols = [c for c in COLUMNS if getattr(ra, c) != getattr(rb, c)]
            return (f"row {i + 1} (ball {ra.ball} vs {rb.ball}) differs in "
                    f"{', '.join(cols)}: {ra} vs {rb}")
    if len(a) != len(b):
        return (f"one run has {len(a)} balls, the other {len(b)} (the first "
                f"{min(len(a), len(b))} agree)")
    return None
