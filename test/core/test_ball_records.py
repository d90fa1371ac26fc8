"""Per-ball outcome files: exact round trips, a diff that names the first difference, and an
arena log that agrees with the evaluation's own counts.

Plausible bugs: floats written with `str` at a few digits (two different runs would "match"),
a diff that stops at the shorter file and calls it equal, a log that counts balls the tally
did not (the last tick's ties) or misses the ones it did.
"""

from __future__ import annotations

import dataclasses

import pytest

from dodge_lstm.core.ball_records import (
    BallLog,
    BallRecord,
    first_difference,
    read_csv,
    write_csv,
)
from dodge_lstm.core.baselines import StationaryPolicy
from dodge_lstm.core.config import SpawnConfig
from dodge_lstm.core.evaluation import evaluate


def record(**changes) -> BallRecord:
    base = BallRecord(0, 3, 12, 0.1 + 0.2, -5.0, 1.0 / 3.0, 4.2, True, "hit", 30)
    return dataclasses.replace(base, **changes)


def test_a_file_reads_back_bit_for_bit(tmp_path):
    rows = [record(), record(ball=4, x=1e-17, threat=False, outcome="passed")]
    back = read_csv(write_csv(rows, tmp_path / "sub" / "o.csv"))
    assert back == rows and back[0].x == 0.1 + 0.2  # 0.30000000000000004, not 0.3


def test_the_first_difference_is_named():
    a = [record(), record(ball=4)]
    assert first_difference(a, list(a)) is None
    diff = first_difference(a, [record(), record(ball=4, x=0.3)])
    assert diff is not None and diff.startswith("row 2") and "differs in x" in diff
    shorter = first_difference(a, a[:1])
    assert shorter is not None and "2 balls, the other 1" in shorter


def test_a_file_that_is_no_outcome_file_is_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a ball outcomes file"):
        read_csv(bad)


def test_a_ball_never_seen_thrown_cannot_be_resolved():
    log = BallLog()
    with pytest.raises(ValueError, match="never seen spawning"):
        log.resolved(0, 1, True, True, 5)
    log.spawned(0, 1, 2, (0.0, 5.0), (0.0, -4.0))
    assert log.knows(0, 1)
    log.resolved(0, 1, False, True, 20)
    assert log.records() == [BallRecord(0, 1, 2, 0.0, 5.0, 0.0, -4.0, True, "passed", 20)]


@pytest.mark.parametrize("arenas", [1, 8])
def test_the_arena_log_is_the_balls_the_evaluation_counted(arenas):
    log = BallLog()
    res = evaluate(StationaryPolicy(), 97, seed=3, spawn_cfg=SpawnConfig(), arenas=arenas,
                   ball_log=log)
    rows = log.records()
    assert len(rows) == res.balls == 97
    assert sum(r.threat for r in rows) == res.threat_balls
    assert sum(r.outcome == "hit" for r in rows) == res.hits
    assert all(r.tick > r.spawn_tick >= 1 for r in rows)
    assert rows == sorted(rows, key=lambda r: r.key)
