"""Where the classic sensing pipeline loses balls: the expert through a detector and a tracker.

Why: under `realistic` sensing the expert fed by the Kalman tracker dodges ~92% of threats
against 100% on the truth, and every learned model so far stays at or below it. This runs the
expert through the tracker, asks the expert on the true state what it would have done at the
same ticks, and reports, for the last ticks before each threat ball is resolved, how often the
two commands point opposite ways (hits against dodged threats), and how many ticks after a ball
appears the tracker first reports it. Prints a table and writes JSON.

    .venv/bin/python bench/sensing_failures.py [--balls 2000] [--seed 7] [--tracker kf]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run from a source checkout without installing
    sys.path.insert(0, str(REPO))

from dodge_lstm.core.arena import Arena  # noqa: E402
from dodge_lstm.core.config import ArenaConfig, SpawnConfig  # noqa: E402
from dodge_lstm.core.evaluation import REPORTED_SEED  # noqa: E402
from dodge_lstm.core.expert import ExpertPolicy  # noqa: E402
from dodge_lstm.core.perception import PerceivedArena  # noqa: E402
from dodge_lstm.core.sensing import PRESETS  # noqa: E402
from dodge_lstm.core.tracking import TRACKERS  # noqa: E402

LOOKBACK = 12
"""Ticks before a ball's resolution that are compared (a ball lives 10-17 ticks)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--balls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=REPORTED_SEED)
    parser.add_argument("--arenas", type=int, default=64)
    parser.add_argument("--tracker", choices=tuple(TRACKERS), default="kf")
    parser.add_argument("--out", type=Path, default=Path("bench/results/sensing_failures.json"))
    args = parser.parse_args()

    arena = Arena(args.arenas, ArenaConfig(), SpawnConfig(), seed=args.seed)
    view = PerceivedArena(arena, PRESETS["realistic"], TRACKERS[args.tracker], seed=args.seed)
    expert = ExpertPolicy()
    # Per arena, the last LOOKBACK ticks: do the two experts' commands point opposite ways?
    opposite = np.zeros((args.arenas, LOOKBACK), dtype=bool)
    appeared: dict[tuple[int, int], int] = {}
    reported: dict[tuple[int, int], int] = {}
    rows: dict[bool, list[np.ndarray]] = {True: [], False: []}
    first_report: dict[bool, list[int]] = {True: [], False: []}
    resolved = 0
    while resolved < args.balls:
        seen, truth = expert.act(view), expert.act(arena)
        opposite = np.roll(opposite, -1, axis=1)
        opposite[:, -1] = np.sign(seen) * np.sign(truth) < 0
        _note_reports(arena, view, appeared, reported)
        out = view.step(seen)
        for i in range(len(out)):
            resolved += 1
            if not out.threat[i]:
                continue
            key = (int(out.arena[i]), int(out.ball_id[i]))
            hit = bool(out.hit[i])
            rows[hit].append(opposite[key[0]].copy())
            if key in reported:
                first_report[hit].append(reported[key] - appeared[key])
    table = {}
    for hit, label in ((True, "hit"), (False, "dodged")):
        share = np.mean(rows[hit], axis=0) if rows[hit] else np.full(LOOKBACK, np.nan)
        ticks = np.array(first_report[hit])
        table[label] = {"threats": len(rows[hit]),
                        "opposite_share": [round(float(x), 3) for x in share],
                        "first_report_ticks_median": float(np.median(ticks)),
                        "first_report_ticks_p90": float(np.percentile(ticks, 90))}
    rate = table["dodged"]["threats"] / (table["dodged"]["threats"] + table["hit"]["threats"])
    print(f"expert through `{args.tracker}` under realistic sensing, seed {args.seed}, "
          f"{args.balls} balls: threat dodge rate {rate:.1%}")
    print("| threats | n | ticks to first report (median / p90) | share of ticks the tracked "
          f"and the true expert point opposite ways, {LOOKBACK} ticks before resolution … 1 |")
    print("| --- | ---: | ---: | --- |")
    for label, row in table.items():
        shares = " ".join(f"{x:.2f}" for x in row["opposite_share"])
        print(f"| {label} | {row['threats']} | {row['first_report_ticks_median']:g} / "
              f"{row['first_report_ticks_p90']:g} | {shares} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"seed": args.seed, "balls": args.balls,
                                    "tracker": args.tracker, "lookback": LOOKBACK,
                                    "threat_dodge_rate": rate, "table": table}, indent=2))
    print(f"wrote {args.out}")


def _note_reports(arena: Arena, view: PerceivedArena, appeared: dict, reported: dict) -> None:
    """First tick each true ball is alive, and first tick a reported track lies within 0.3 m
    of it (the tracker's ids are its own; the nearest track stands for the ball)."""
    for b, k in zip(*np.nonzero(arena.alive), strict=True):
        key = (int(b), int(arena.ball_id[b, k]))
        appeared.setdefault(key, arena.tick)
        if key in reported or not view.alive[b].any():
            continue
        gap = np.linalg.norm(view.ball_pos[b][view.alive[b]] - arena.ball_pos[b, k], axis=-1)
        if gap.min() < 0.3:
            reported[key] = arena.tick


if __name__ == "__main__":
    main()
