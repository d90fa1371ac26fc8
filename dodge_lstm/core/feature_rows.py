"""Feature rows from odometry messages: shared by the `ball_features` node and bag import.

Gazebo-style ball odometry arrives one message per ball; a ball is alive while its messages keep
coming (no older than `timeout` against the robot's stamp) and until an outcome names it. Each
robot `odom` (decimated to the control rate) becomes one row through the core
`features.ball_features`. The node feeds live messages, `bag_dataset` feeds recorded ones (rosbags
dataclasses have the same field names), so online and offline rows come from one code path.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dodge_lstm.core.features import ball_features
from dodge_lstm.core.odometry import ball_state, finite_odometry, robot_state, stamp_ns


class BallTracker:
    """Latest state per ball name, as arrays the core functions take."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_ns = int(timeout_s * 1e9)
        self._balls: dict[str, tuple[int, np.ndarray, np.ndarray, int]] = {}
        self._next_id = 0
        self.rejected = 0

    def update(self, msg: Any) -> bool:
        """Store one ball message; returns False (and counts it) if it is not finite."""
        if not finite_odometry(msg) or not msg.child_frame_id:
            self.rejected += 1
            return False
        name = msg.child_frame_id
        pos, vel = ball_state(msg)
        ball_id = self._balls[name][3] if name in self._balls else self._new_id()
        self._balls[name] = (stamp_ns(msg), pos, vel, ball_id)
        return True

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def remove(self, name: str) -> None:
        """Forget a ball (it hit or passed)."""
        self._balls.pop(name, None)

    def clear(self) -> None:
        """Forget every ball (time jumped back); the `rejected` count keeps counting."""
        self._balls.clear()

    def states(self, now_ns: int) -> list[tuple[str, int, np.ndarray, np.ndarray]]:
        """`(name, id, position, velocity)` of the balls seen within `timeout` of `now_ns`
        (stale ones are dropped for good), in first-seen order.

        Positions are propagated at constant velocity from each ball's own stamp to `now_ns`:
        balls fly straight, so this is exact, and it aligns ball streams that arrive just after
        the robot's (separate topics have no delivery order) or tick at another rate (Gazebo)."""
        for name in [n for n, (t, *_) in self._balls.items() if now_ns - t > self.timeout_ns]:
            del self._balls[name]
        return [(name, i, p + v * ((now_ns - t) * 1e-9), v)
                for name, (t, p, v, i) in self._balls.items()]

    def arrays(self, now_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`states` as positions `[1, M, 2]`, velocities `[1, M, 2]`, mask `[1, M]` and ids
        `[1, M]`, the shapes the core feature and expert functions take."""
        states = self.states(now_ns)
        m = max(len(states), 1)
        pos = np.zeros((1, m, 2))
        vel = np.zeros((1, m, 2))
        mask = np.zeros((1, m), dtype=bool)
        ids = np.full((1, m), -1, dtype=np.int64)
        for j, (_name, i, p, v) in enumerate(states):
            pos[0, j], vel[0, j], mask[0, j], ids[0, j] = p, v, True, i
        return pos, vel, mask, ids

    def __len__(self) -> int:
        return len(self._balls)


class FeatureRowBuilder:
    """Robot odometry + tracked balls -> one feature row per control period."""

    def __init__(self, num_slots: int = 2, rate_hz: float = 10.0, ball_timeout: float = 0.25,
                 ) -> None:
        self.num_slots = num_slots
        self.period_ns = int(1e9 / rate_hz)
        self.tracker = BallTracker(ball_timeout)
        self.last_row_ns: int | None = None
        self.rejected = 0
        """Non-finite robot odometry messages (bad ball messages: `tracker.rejected`)."""

    def on_ball(self, msg: Any) -> None:
        """A `balls/odom` message."""
        self.tracker.update(msg)

    def on_outcome(self, ball: str) -> None:
        """A ball was resolved: it leaves the rows at once, not after the timeout."""
        self.tracker.remove(ball)

    def on_odom(self, msg: Any) -> np.ndarray | None:
        """Row `[F]` (float32) for this robot state, or None if rejected or within the period
        of the previous row (odometry faster than the control rate keeps one row per period)."""
        if not finite_odometry(msg):
            self.rejected += 1
            return None
        now = stamp_ns(msg)
        if self.last_row_ns is not None and now < self.last_row_ns:
            # Time went backwards (simulator restart, looping bag): start over, or the period
            # check below would hold every row back forever.
            self.last_row_ns = None
            self.tracker.clear()
        if self.last_row_ns is not None and now - self.last_row_ns < 0.9 * self.period_ns:
            return None
        self.last_row_ns = now
        pos, yaw, vel = robot_state(msg)
        bpos, bvel, mask, ids = self.tracker.arrays(now)
        rows, _ = ball_features(pos[None], np.array([yaw]), vel[None], bpos, bvel, mask, ids,
                                self.num_slots)
        return rows[0]
