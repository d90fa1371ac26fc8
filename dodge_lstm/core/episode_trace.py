"""One episode, tick by tick, as pictures need it: from the arena or from a recorded bag.

`viz.episode_gif` draws an `EpisodeTrace` whatever its source, so a bag recorded from the ROS
graph and its arena twin give the same picture.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dodge_lstm.core.arena import Arena, ArenaFactory
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.evaluation import Policy


@dataclass
class EpisodeTrace:
    """Frame i is the state after control step i (robot, balls) and the command of that step."""

    robot: list[np.ndarray] = field(default_factory=list)
    """World position `[2]` per frame."""
    heading: list[np.ndarray] = field(default_factory=list)
    """Unit heading `[2]` per frame."""
    balls: list[np.ndarray] = field(default_factory=list)
    """Ball positions `[K, 2]` per frame, NaN where slot k is empty (K fixed per trace)."""
    threat: list[np.ndarray] = field(default_factory=list)
    """Per slot: would the ball in it hit a robot standing still (its label at spawn)."""
    hits: list[tuple[int, np.ndarray]] = field(default_factory=list)
    """(frame, robot position) of each hit."""
    resolved: list[tuple[int, int, int]] = field(default_factory=list)
    """(frame, hits so far, balls resolved so far) per frame."""
    commands: list[float] = field(default_factory=list)
    """`linear.x` command of the step that led to each frame [m/s]."""
    dt: float = ArenaConfig().dt
    """Control period [s]."""

    def __len__(self) -> int:
        return len(self.robot)


def trace_episode(policy: Policy, seconds: float, seed: int,
                  arena_cfg: ArenaConfig | None = None,
                  spawn_cfg: SpawnConfig | None = None, make_arena: ArenaFactory = Arena,
                  observe: Callable[[Arena], None] | None = None) -> EpisodeTrace:
    """Run one arena (of the simulator `make_arena` builds) for `seconds` and keep every pose;
    `observe(arena)` sees the state after every step (a camera, for one)."""
    arena = make_arena(1, arena_cfg, spawn_cfg, seed=seed)
    policy.reset(arena)
    tr = EpisodeTrace(dt=arena.cfg.dt)
    hits = balls = 0
    for tick in range(round(seconds * arena.cfg.control_rate_hz)):
        command = float(np.clip(policy.act(arena)[0], -arena.cfg.speed_limit,
                                arena.cfg.speed_limit))
        out = arena.step(command)
        for i in range(len(out)):
            balls += 1
            if out.hit[i]:
                hits += 1
                tr.hits.append((tick, arena.robot_pos[0].copy()))
        tr.robot.append(arena.robot_pos[0].copy())
        tr.heading.append(arena.heading[0].copy())
        tr.balls.append(np.where(arena.alive[0][:, None], arena.ball_pos[0], np.nan))
        tr.threat.append(arena.threat[0].copy())
        tr.resolved.append((tick, hits, balls))
        tr.commands.append(command)
        if observe is not None:
            observe(arena)
    arena.close()
    return tr
