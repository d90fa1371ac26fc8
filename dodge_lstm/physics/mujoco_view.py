"""MuJoCo's own rendering of an episode: what the physics simulated, seen by a camera.

`EpisodeCamera` is handed to `core.episode_trace.trace_episode` as its per-tick observer; it
copies world 0's state into a private `MjData` and renders one RGB frame from a camera that
follows the robot. Offscreen rendering needs an OpenGL backend: set `MUJOCO_GL=egl` (or
`osmesa`) before MuJoCo is imported on a machine without a display (`dodge-lstm render` does).
"""

from __future__ import annotations

import mujoco
import numpy as np

from dodge_lstm.physics.mujoco_arena import STATE, MujocoArena


class EpisodeCamera:
    """Frames `[H, W, 3]` (uint8) of world 0, one per call, from a camera that keeps the robot
    in view (it recentres on the robot when it has moved `slack_m` away)."""

    def __init__(self, arena: MujocoArena, width: int = 480, height: int = 360,
                 distance: float = 8.0, elevation: float = -35.0, azimuth: float = 135.0,
                 slack_m: float = 2.0) -> None:
        self.model = arena.model
        self.data = mujoco.MjData(self.model)
        self.renderer = mujoco.Renderer(self.model, height=height, width=width)
        self.camera = mujoco.MjvCamera()
        self.camera.distance, self.camera.elevation = distance, elevation
        self.camera.azimuth = azimuth
        self.slack_m = slack_m
        """The camera stays put until the robot is this far from where it looks [m]."""
        self.frames: list[np.ndarray] = []

    def __call__(self, arena: MujocoArena) -> None:
        mujoco.mj_setState(self.model, self.data, arena.state[0], STATE)
        mujoco.mj_forward(self.model, self.data)
        robot = arena.robot_pos[0]
        if not self.frames or np.hypot(*(robot - self.camera.lookat[:2])) > self.slack_m:
            self.camera.lookat[:] = [*robot, 0.2]  # recentre (a still camera compresses well)
        self.renderer.update_scene(self.data, self.camera)
        self.frames.append(self.renderer.render().copy())

    def close(self) -> None:
        self.renderer.close()
