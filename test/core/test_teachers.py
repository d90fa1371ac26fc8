"""Who labels sensed rows (`core.teachers`). Plausible bugs: a teacher flag that is parsed and
dropped (every recording labelled by the truth), a tie-break that overrides the truth where
the truth is clear, or a teacher that changes recordings made without sensing."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.dataset import record_expert
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.sensing import PRESETS
from dodge_lstm.core.teachers import TEACHERS, check_teacher, teacher_commands


def scene(ball_xy, ball_v) -> SimpleNamespace:
    """A robot at rest at the origin facing +x, one ball."""
    return SimpleNamespace(
        robot_pos=np.zeros((1, 2)), robot_yaw=np.zeros(1), robot_speed=np.zeros(1),
        ball_pos=np.array([[ball_xy]], float), ball_vel=np.array([[ball_v]], float),
        alive=np.ones((1, 1), bool), cfg=ArenaConfig())


def test_the_tiebreak_follows_the_view_only_where_the_truth_has_no_preference():
    expert = ExpertPolicy()
    # The truth: a ball from the left straight at the robot: backing up and driving on dodge
    # it equally well. The view sees it a little behind the robot's centre line.
    truth, view = scene((0.0, 3.0), (0.0, -4.0)), scene((-0.1, 3.0), (0.0, -4.0))
    commands, cost = expert.costs(truth)
    assert np.isclose(cost[0, 0], cost[0, -1])  # a tie: full reverse and full ahead
    seen = expert.act(view)
    assert seen[0] > 0.5  # the view says: drive on
    labels = {t: teacher_commands(expert, truth, view, t)[0] for t in TEACHERS}
    assert labels["truth"] == commands[np.argmin(cost[0])]
    assert labels["tracker"] == seen[0]
    assert labels["truth-tiebreak"] > 0.5 and labels["truth"] < -0.5

    # Where the truth is clear (the ball passes behind: drive on) the view cannot overturn it,
    # even when it is wrong about the side.
    truth = scene((-0.2, 3.0), (0.0, -4.0))
    view = scene((0.2, 3.0), (0.0, -4.0))
    assert expert.act(truth)[0] > 0 and expert.act(view)[0] < 0
    assert teacher_commands(expert, truth, view, "truth-tiebreak")[0] > 0


def test_without_sensing_every_teacher_is_the_truth_and_with_it_they_differ():
    truth = record_expert(2, seed=3, episode_s=5.0, batch=2)
    for teacher in TEACHERS:
        same = record_expert(2, seed=3, episode_s=5.0, batch=2, teacher=teacher)
        np.testing.assert_array_equal(same.commands, truth.commands)
        assert same.meta["teacher"] == "truth"
    sensed = {t: record_expert(4, seed=3, episode_s=8.0, batch=4, sensing=PRESETS["realistic"],
                               teacher=t) for t in TEACHERS}
    assert {t: r.meta["teacher"] for t, r in sensed.items()} == {t: t for t in TEACHERS}
    for a, b in (("truth", "tracker"), ("truth", "truth-tiebreak")):
        assert not np.array_equal(sensed[a].commands, sensed[b].commands), (a, b)


def test_an_unknown_teacher_is_refused_by_name():
    with pytest.raises(ValueError, match="teacher must be one of truth, tracker"):
        check_teacher("oracle")
    with pytest.raises(ValueError, match="teacher must be one of"):
        record_expert(1, episode_s=1.0, teacher="oracle")
