"""Who labels a sensed recording: what the expert reads when the rows come through a detector.

`record_expert` with sensing builds rows from the tracked view while the expert labels. Which
state the expert reads is the teacher (issue 16):

- `truth`: the true state, the privileged teacher of "learning by cheating". Its labels are
  right for the world, but where the tracked view cannot tell two worlds apart (a ball heading
  at the robot, its side not yet resolved) they jump between opposite dodges, and a regression
  learns their average: standing still.
- `tracker`: the tracked view the student sees, the classic pipeline as teacher. Its labels are
  a function of the rows, so nothing averages away, but it teaches the tracker's mistakes too.
- `truth-tiebreak`: the true state's cost plus `weight` times the tracked view's: the truth
  decides wherever it prefers one command clearly, and what the student can see breaks its ties
  (both dodges of a ball heading straight at the robot cost nothing on the truth).

Without sensing every teacher is the expert on the truth.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dodge_lstm.core.expert import ExpertPolicy

TEACHERS = ("truth", "tracker", "truth-tiebreak")
TIEBREAK_WEIGHT = 0.3
"""The tracked view's cost weight under `truth-tiebreak` (a contact costs 10, a full clearance
shortfall 1, so 0.3 leaves the truth in charge of every clear choice)."""


def check_teacher(teacher: str) -> str:
    """`teacher`, or ValueError naming the teachers."""
    if teacher not in TEACHERS:
        raise ValueError(f"teacher must be one of {', '.join(TEACHERS)}, got {teacher!r}")
    return teacher


def teacher_commands(expert: ExpertPolicy, world: Any, view: Any, teacher: str,
                     weight: float = TIEBREAK_WEIGHT) -> np.ndarray:
    """The label `[B]` of the current tick: `world` is the arena (the truth), `view` what the
    rows are built from (the arena itself without sensing)."""
    if view is world or teacher == "truth":
        return expert.act(world)
    if teacher == "tracker":
        return expert.act(view)
    commands, truth_cost = expert.costs(world)
    _, view_cost = expert.costs(view)
    return commands[np.argmin(truth_cost + weight * view_cost, axis=1)]
