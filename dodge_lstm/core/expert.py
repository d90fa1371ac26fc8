"""The scripted expert that labels training data: sampling-based model-predictive dodging.

Each tick it predicts every visible ball on a straight line (constant velocity), rolls the robot
forward under each candidate command (held over the horizon, respecting the speed and
acceleration limits), measures each ball's minimum clearance along the swept path, and picks the
candidate with the least cost: a squared shortfall of clearance below `clearance_cap` per ball, a
large penalty per predicted contact, and a small effort term so that, when nothing threatens,
the robot comes to rest. Summing per ball (rather than taking the minimum over balls) keeps a ball
that is already leaving from masking the one that is coming.

It works in the robot frame on what a real robot can observe, so the ROS `expert_driver` node
calls the same function with states from `odom` and `balls/odom`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dodge_lstm.core.collision import segment_min_distance_sq
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.features import to_robot_frame


@dataclass(frozen=True)
class ExpertConfig:
    """Planner settings."""

    horizon_s: float = 2.0
    """How far ahead balls and the robot are predicted [s]."""
    step_s: float = 0.1
    """Prediction step; clearance is swept between steps, so it is exact per segment [s]."""
    candidates: int = 21
    """Number of constant commands tried, evenly spread over [-speed_limit, speed_limit]."""
    clearance_cap: float = 0.5
    """Clearance beyond which a ball no longer matters [m]."""
    contact_penalty: float = 10.0
    """Cost of one predicted contact, relative to a full clearance shortfall."""
    effort_weight: float = 0.02
    """Cost of commanding full speed when nothing threatens."""


def robot_track(v0: np.ndarray, commands: np.ndarray, times: np.ndarray,
                accel_limit: float) -> np.ndarray:
    """Distance driven `[B, C, H]` from speed `v0` `[B]` when holding `commands` `[C]`.

    Closed form for a ramp at the acceleration limit followed by constant speed.
    """
    v0 = v0[:, None, None]
    u = commands[None, :, None]
    t = times[None, None, :]
    dv = u - v0
    t_ramp = np.abs(dv) / accel_limit
    acc = np.sign(dv) * accel_limit
    ramp = v0 * np.minimum(t, t_ramp) + 0.5 * acc * np.minimum(t, t_ramp) ** 2
    return ramp + u * np.maximum(t - t_ramp, 0.0)


def expert_command(rel_pos: np.ndarray, ball_vel: np.ndarray, mask: np.ndarray,
                   robot_speed: np.ndarray, arena: ArenaConfig | None = None,
                   cfg: ExpertConfig | None = None) -> np.ndarray:
    """Commands `[B]` from robot-frame ball positions `[B, M, 2]`, ball velocities (the balls'
    own, rotated into the robot frame) `[B, M, 2]`, visibility `[B, M]` and robot speed `[B]`."""
    commands, cost = expert_costs(rel_pos, ball_vel, mask, robot_speed, arena, cfg)
    return commands[np.argmin(cost, axis=1)]


def expert_costs(
    rel_pos: np.ndarray,
    ball_vel: np.ndarray,
    mask: np.ndarray,
    robot_speed: np.ndarray,
    arena: ArenaConfig | None = None,
    cfg: ExpertConfig | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate commands `[C]` and each one's cost `[B, C]` (arguments as for
    `expert_command`, which picks the cheapest); a teacher can weigh costs of two views."""
    arena = arena or ArenaConfig()
    cfg = cfg or ExpertConfig()
    vmax = arena.speed_limit
    commands = np.linspace(-vmax, vmax, cfg.candidates)
    steps = round(cfg.horizon_s / cfg.step_s)
    times = np.arange(steps + 1) * cfg.step_s
    track = robot_track(robot_speed, commands, times, arena.accel_limit)  # [B, C, H+1]
    t = times[None, None, :, None, None]
    ball = rel_pos[:, None, None] + t * ball_vel[:, None, None]  # [B, 1, H+1, M, 2]
    rel = np.repeat(ball, commands.size, axis=1)  # [B, C, H+1, M, 2]
    rel[..., 0] -= track[..., None]
    d2 = segment_min_distance_sq(rel[:, :, :-1], rel[:, :, 1:] - rel[:, :, :-1])
    clearance = np.sqrt(d2.min(axis=2)) - arena.contact_distance  # [B, C, M]
    shortfall = cfg.clearance_cap - np.minimum(clearance, cfg.clearance_cap)
    cost = (shortfall / cfg.clearance_cap) ** 2 + cfg.contact_penalty * (clearance <= 0.0)
    cost = np.where(mask[:, None, :], cost, 0.0).sum(axis=-1)
    return commands, cost + cfg.effort_weight * (commands / vmax)[None, :] ** 2


class ExpertPolicy:
    """The expert as an arena policy: observes the arena, returns commands."""

    name = "expert"

    def __init__(self, cfg: ExpertConfig | None = None) -> None:
        self.cfg = cfg or ExpertConfig()

    def reset(self, arena) -> None:
        """Nothing to forget: the expert is memoryless."""

    def act(self, arena) -> np.ndarray:
        """Commands `[B]` for the arena's current state."""
        commands, cost = self.costs(arena)
        return commands[np.argmin(cost, axis=1)]

    def costs(self, arena) -> tuple[np.ndarray, np.ndarray]:
        """Candidate commands `[C]` and their costs `[B, C]` in the arena's current state."""
        rel = to_robot_frame(arena.ball_pos - arena.robot_pos[:, None, :], arena.robot_yaw)
        vel = to_robot_frame(arena.ball_vel, arena.robot_yaw)
        return expert_costs(rel, vel, arena.alive, arena.robot_speed, arena.cfg, self.cfg)
