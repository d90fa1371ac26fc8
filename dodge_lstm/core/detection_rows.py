"""Feature rows from a detector's reports: the `ball_features` node when the graph senses, and
bag import of a recorded `balls/detections` (issue 16).

What `core.perception.PerceivedArena` does each tick, from messages: the robot's odometry (exact,
kept by stamp for a few seconds), the detector's report (ball centres in `base_link` at capture
time, possibly none; `geometry_msgs/PoseArray`, stamped at capture) fused by the tracker into
tracks, and the confirmed tracks at the robot's newest tick turned into one feature row by the
core `features.ball_features`. The node feeds live messages, `bag_dataset` recorded ones (rosbags
dataclasses have the same field names): one code path, as for ground-truth rows.

Pairing: a report belongs to the newest robot tick seen when it arrives (the detector answers
each `odom` with one report, captured `latency` earlier); one report is fused per tick, so a
repeated tick (a lockstep simulator holding its first one) gives the same row again.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

import numpy as np

from dodge_lstm.core.features import ball_features
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns
from dodge_lstm.core.sensing import Detections
from dodge_lstm.core.tracking import BallTrackerCV, TrackerConfig

ROW_INPUTS = ("balls", "detections")
"""Where a graph's rows come from: the simulator's `balls/odom` (ground truth) or
`balls/detections` through a tracker (the feature node's `input`, and the policy node's, which
picks its default model by it)."""

HISTORY_TICKS = 50
"""Robot poses kept for converting reports captured up to this many ticks ago (5 s)."""


def control_tick(ns: int, period_ns: int) -> int:
    """The control tick of a stamp (sim time: exact multiples of the period)."""
    return math.floor(ns / period_ns + 0.5)


def detection_positions(msg: Any) -> np.ndarray:
    """Ball centres `[D, 2]` of a PoseArray-shaped report; ValueError if any is not finite."""
    pos = np.array([[p.position.x, p.position.y] for p in msg.poses], dtype=float)
    pos = pos.reshape(-1, 2)
    if not np.all(np.isfinite(pos)):
        raise ValueError("a detection with a non-finite position")
    return pos


class DetectionRowBuilder:
    """Robot odometry + detector reports -> one feature row per robot tick."""

    def __init__(self, num_slots: int = 2, rate_hz: float = 10.0,
                 tracker: TrackerConfig | None = None) -> None:
        self.num_slots = num_slots
        self.period_ns = round(1e9 / rate_hz)
        self.tracker_cfg = tracker or TrackerConfig()
        self.tracker = BallTrackerCV(1, self.tracker_cfg, 1.0 / rate_hz)
        self._poses: OrderedDict[int, tuple[np.ndarray, float, np.ndarray]] = OrderedDict()
        self.now_tick: int | None = None
        """The newest robot tick seen."""
        self.fused_tick: int | None = None
        """The robot tick whose report was fused last (one report per tick)."""
        self.last_row: np.ndarray | None = None
        self.rejected = 0
        """Non-finite odometry or detections, and reports captured at no known robot pose."""

    def tick_of(self, ns: int) -> int:
        """The control tick of a stamp (`control_tick`)."""
        return control_tick(ns, self.period_ns)

    def on_odom(self, msg: Any) -> bool:
        """Keep the robot's state at this tick; False (counted) if not finite."""
        if not finite_odometry(msg):
            self.rejected += 1
            return False
        tick = self.tick_of(stamp_ns(msg))
        if self.now_tick is not None and tick < self.now_tick:
            self.reset()  # time went backwards (restart, looping bag): start over
        pos, yaw, vel = robot_state(msg)
        self._poses[tick] = (pos, yaw, vel)
        while len(self._poses) > HISTORY_TICKS:
            self._poses.popitem(last=False)
        self.now_tick = tick
        return True

    def reset(self) -> None:
        """Forget tracks and poses (the `rejected` count keeps counting)."""
        self.tracker = BallTrackerCV(1, self.tracker_cfg, self.tracker.dt)
        self._poses.clear()
        self.now_tick = self.fused_tick = None
        self.last_row = None

    def on_detections(self, msg: Any) -> np.ndarray | None:
        """The row `[F]` (float32) at the newest robot tick after fusing this report; the same
        row again for a second report at the same tick; None before any odometry or if the
        report is rejected (non-finite, or captured at a tick with no known pose)."""
        if self.now_tick is None:
            return None
        if self.fused_tick == self.now_tick:
            return self.last_row
        capture = self.tick_of(stamp_ns(msg))
        try:
            z = detection_positions(msg)
        except ValueError:
            self.rejected += 1
            return None
        # An empty report needs no pose (nothing to place); the detector sends one while its
        # latency pipe fills, so that every tick gets its row.
        at_capture = self._poses.get(capture, self._poses[self.now_tick] if not len(z) else None)
        if at_capture is None:
            self.rejected += 1
            return None
        pos, yaw, _ = at_capture
        self.tracker.update(Detections(z[None], np.ones((1, len(z)), dtype=bool), pos[None],
                                       np.array([yaw]), capture))
        self.fused_tick = self.now_tick
        robot_pos, robot_yaw, robot_vel = self._poses[self.now_tick]
        bpos, bvel, mask, ids = self.tracker.states(self.now_tick)
        rows, _ = ball_features(robot_pos[None], np.array([robot_yaw]), robot_vel[None], bpos,
                                bvel, mask, ids, self.num_slots)
        self.last_row = rows[0]
        return self.last_row
