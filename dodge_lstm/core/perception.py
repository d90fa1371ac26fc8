"""The arena as a policy perceives it through a detector and a tracker (issue 16).

`PerceivedArena` wraps an `Arena` and stands in for it wherever a policy reads state: the robot
is its odometry (exact, as wheel odometry over a few seconds nearly is), the balls are the
tracker's confirmed tracks built from the sensor's detections. Outcomes, threats and hits stay
the simulator's: the world is real, only what the policy sees is not. Every policy (expert,
TFLite model, any window function) reads the same attributes, so all of them can be scored on
the same sensing and seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dodge_lstm.core.arena import Arena, Outcomes
from dodge_lstm.core.sensing import Detections, Sensor, SensorConfig
from dodge_lstm.core.tracking import BallTrackerCV, TrackerConfig


def perceive(arena: Arena, sensing: SensorConfig | None, tracker: TrackerConfig | None = None,
             seed: int = 0) -> Arena | PerceivedArena:
    """What a policy reads: `arena` itself for no or `truth` sensing, else the arena seen
    through `sensing` and `tracker`. Both step with `step(commands)`."""
    if sensing is None or sensing.is_truth:
        return arena
    return PerceivedArena(arena, sensing, tracker, seed)


class PerceivedArena:
    """`arena` with its ball state replaced by what `sensing` and `tracker` make of it. Step it
    with `step` (the arena's, then `update()`); `update()` also ran once here, for the state at
    start."""

    def __init__(self, arena: Arena, sensing: SensorConfig, tracker: TrackerConfig | None = None,
                 seed: int = 0) -> None:
        self.arena = arena
        self.sensing = sensing
        self.sensor = Sensor(arena.batch, sensing, arena.cfg.dt, seed)
        self.tracker = BallTrackerCV(arena.batch, tracker or TrackerConfig(), arena.cfg.dt)
        self.ball_pos = np.zeros((arena.batch, 1, 2))
        self.ball_vel = np.zeros((arena.batch, 1, 2))
        self.alive = np.zeros((arena.batch, 1), dtype=bool)
        self.ball_id = np.full((arena.batch, 1), -1, dtype=np.int64)
        self.last_detections: Detections | None = None
        """The report fused at the current tick (None while the latency pipe fills)."""
        self.update()

    def step(self, commands: np.ndarray | float) -> Outcomes:
        """The arena's step, then what the sensor and tracker make of the new state."""
        out = self.arena.step(commands)
        self.update()
        return out

    def reset_rows(self, rows: np.ndarray) -> None:
        """The arena's `reset_rows`, then those rows forget their tracks and their reports still
        in the latency pipe (the next episode starts blind, as a freshly started robot does).
        Nothing is captured here: the next `step` captures every row, as at any tick."""
        rows = np.asarray(rows, dtype=np.int64)
        self.arena.reset_rows(rows)
        self.tracker.reset_rows(rows)
        self.sensor.reset_rows(rows)
        self.ball_pos, self.ball_vel, self.alive, self.ball_id = \
            self.tracker.states(self.arena.tick)

    def update(self) -> None:
        """Detect the current true state, fuse what the sensor reports now, and expose the
        confirmed tracks at the current tick."""
        a = self.arena
        det = self.sensor.step(a.tick, a.robot_pos, a.robot_yaw, a.ball_pos, a.alive)
        self.last_detections = det
        if det is not None:
            self.tracker.update(det)
        self.ball_pos, self.ball_vel, self.alive, self.ball_id = self.tracker.states(a.tick)

    def __getattr__(self, name: str) -> Any:
        """Everything else (robot state, config, batch, tick) is the arena's."""
        return getattr(self.arena, name)
