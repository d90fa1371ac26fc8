"""Where balls appear and where they are aimed: the seed's spawner, vectorized.

A ball appears `distance` (or U(distance, distance_max)) metres to the robot's left or right,
shifted U(-lateral_offset, lateral_offset) along the robot's track, and flies at
U(speed_min, speed_max) towards an aim point chosen by the targeting mode:

- `straight`: no aim point; it flies straight across the track (perpendicular to it).
- `robot`:    the robot's position shifted U(-robot_spread, robot_spread) along its track.
- `center`:   the world origin (the arena centre of the seed's Gazebo world).
- `gaussian`: the robot's position shifted N(0, gaussian_sigma) along its track.
- `random`:   a point U(-random_spread, random_spread)^2 around the robot.
"""

from __future__ import annotations

import numpy as np

from dodge_lstm.core.config import SpawnConfig


def spawn_balls(
    rng: np.random.Generator,
    robot_pos: np.ndarray,
    robot_yaw: np.ndarray,
    cfg: SpawnConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Positions and velocities `[n, 2]` of n new balls, one per given robot pose."""
    n = robot_pos.shape[0]
    heading = np.stack([np.cos(robot_yaw), np.sin(robot_yaw)], axis=-1)
    left = np.stack([-heading[:, 1], heading[:, 0]], axis=-1)
    if cfg.side == "both":
        side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    else:
        side = np.full(n, 1.0 if cfg.side == "left" else -1.0)
    along = rng.uniform(-cfg.lateral_offset, cfg.lateral_offset, n)
    # A fixed distance draws nothing, so default runs keep the seed's random stream.
    distance = (rng.uniform(cfg.distance, cfg.distance_max, n) if cfg.distance_max > cfg.distance
                else np.full(n, cfg.distance))
    pos = robot_pos + (side * distance)[:, None] * left + along[:, None] * heading
    speed = rng.uniform(cfg.speed_min, cfg.speed_max, n)

    mode = cfg.targeting
    if mode == "straight":
        direction = -side[:, None] * left
    else:
        if mode == "robot":
            aim = robot_pos + rng.uniform(-cfg.robot_spread, cfg.robot_spread, n)[:, None] * heading
        elif mode == "center":
            aim = np.zeros_like(robot_pos)
        elif mode == "gaussian":
            aim = robot_pos + rng.normal(0.0, cfg.gaussian_sigma, n)[:, None] * heading
        elif mode == "random":
            aim = robot_pos + rng.uniform(-cfg.random_spread, cfg.random_spread, (n, 2))
        else:
            raise ValueError(f"unknown targeting mode {mode!r}")
        to_aim = aim - pos
        norm = np.linalg.norm(to_aim, axis=-1, keepdims=True)
        direction = to_aim / np.maximum(norm, 1e-9)
    return pos, direction * speed[:, None]
