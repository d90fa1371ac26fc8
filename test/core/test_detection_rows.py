"""Rows from detector reports (messages) equal the rows `PerceivedArena` gives the evaluation.

`core.detection_rows` is what the `ball_features` node runs when the graph senses and what bag
import runs on a recorded `balls/detections`. Fed the arena's odometry and the same sensor's
reports as messages (plain stand-ins with the ROS field names: no ROS needed), it must build the
rows `evaluate --sensing` feeds a policy, tick for tick.

Plausible bugs: a report paired with the wrong tick (fused one tick late, or its latency not
undone), detections placed with the robot's pose now instead of at capture, a report fused twice
for a repeated tick, an empty report (latency pipe filling) dropped so that the first ticks get
no row, non-finite detections fused into the tracks.
"""

from __future__ import annotations

import math
from types import SimpleNamespace as Msg

import numpy as np
import pytest

pytest.importorskip("scipy")

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.detection_rows import DetectionRowBuilder
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.features import ball_features
from dodge_lstm.core.perception import PerceivedArena
from dodge_lstm.core.sensing import PRESETS, Sensor
from dodge_lstm.core.tracking import TRACKERS

SLOTS = 2


def stamp(tick: int, dt: float) -> Msg:
    sec, nsec = divmod(round(tick * dt * 1e9), 1_000_000_000)
    return Msg(sec=sec, nanosec=nsec)


def odom_msg(arena: Arena, dt: float) -> Msg:
    yaw = float(arena.robot_yaw[0])
    x, y = map(float, arena.robot_pos[0])
    return Msg(header=Msg(stamp=stamp(arena.tick, dt)),
              pose=Msg(pose=Msg(position=Msg(x=x, y=y, z=0.0),
                              orientation=Msg(x=0.0, y=0.0, z=math.sin(yaw / 2),
                                             w=math.cos(yaw / 2)))),
              twist=Msg(twist=Msg(linear=Msg(x=float(arena.robot_speed[0]), y=0.0, z=0.0),
                                angular=Msg(x=0.0, y=0.0, z=0.0))))


def report(det, now_tick: int, dt: float) -> Msg:
    """What `ball_detector` publishes: the capture's positions, stamped at capture time (an
    empty report stamped now while the pipe fills)."""
    if det is None:
        return Msg(header=Msg(stamp=stamp(now_tick, dt)), poses=[])
    pts = det.pos[0, det.mask[0]]
    return Msg(header=Msg(stamp=stamp(det.tick, dt)),
              poses=[Msg(position=Msg(x=float(x), y=float(y), z=0.0)) for x, y in pts])


@pytest.mark.parametrize("tracker", ["kf", "cv", "raw"])
def test_rows_from_reports_are_the_perceived_arenas_rows(tracker):
    seed, ticks = 5, 400
    sensing = PRESETS["realistic"]
    view = PerceivedArena(Arena(1, seed=seed), sensing, TRACKERS[tracker], seed=seed)
    twin = Arena(1, seed=seed)
    dt = twin.cfg.dt
    sensor = Sensor(1, sensing, dt, seed)  # what the detector node holds
    builder = DetectionRowBuilder(SLOTS, 1.0 / dt, TRACKERS[tracker])
    expert = ExpertPolicy()
    compared = with_balls = 0
    for _ in range(ticks):
        det = sensor.step(twin.tick, twin.robot_pos, twin.robot_yaw, twin.ball_pos, twin.alive)
        assert builder.on_odom(odom_msg(twin, dt))
        row = builder.on_detections(report(det, twin.tick, dt))
        assert row is not None  # every tick gets a row, the first ones too
        want, _ = ball_features(view.robot_pos, view.robot_yaw, view.robot_vel, view.ball_pos,
                                view.ball_vel, view.alive, view.ball_id, SLOTS)
        np.testing.assert_allclose(row, want[0], atol=1e-5, err_msg=f"tick {twin.tick}")
        # A repeated tick: the same row, nothing fused again.
        np.testing.assert_array_equal(builder.on_detections(report(det, twin.tick, dt)), row)
        compared += 1
        with_balls += bool(view.alive.any())
        command = expert.act(view)  # drive on the tracks, as a sensing policy would
        view.step(command)
        twin.step(command)
    assert compared == ticks and with_balls > ticks // 2
    np.testing.assert_array_equal(view.arena.robot_pos, twin.robot_pos)


def test_bad_reports_are_rejected_and_counted():
    builder = DetectionRowBuilder(SLOTS, 10.0)
    arena = Arena(1, seed=1)
    empty = Msg(header=Msg(stamp=stamp(0, 0.1)), poses=[])
    assert builder.on_detections(empty) is None  # no odometry yet: nothing to place
    assert builder.on_odom(odom_msg(arena, 0.1))
    nan = Msg(header=Msg(stamp=stamp(0, 0.1)), poses=[Msg(position=Msg(x=math.nan, y=0.0, z=0.0))])
    assert builder.on_detections(nan) is None and builder.rejected == 1
    unknown = Msg(header=Msg(stamp=stamp(-30, 0.1)), poses=[Msg(position=Msg(x=1.0, y=0.0, z=0.0))])
    assert builder.on_detections(unknown) is None and builder.rejected == 2
    assert builder.on_detections(empty) is not None  # an empty report needs no pose
