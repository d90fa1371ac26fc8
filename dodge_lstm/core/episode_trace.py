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
from dodge_lstm.core.perception import PerceivedArena, perceive
from dodge_lstm.core.sensing import SensorConfig
from dodge_lstm.core.tracking import TrackerConfig


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
    detections: list[np.ndarray] = field(default_factory=list)
    """With sensing: the world positions `[D, 2]` of the report fused at each frame (captured
    `latency` earlier; clutter included); empty without sensing."""
    tracks: list[np.ndarray] = field(default_factory=list)
    """With sensing: the confirmed tracks `[T, 2]` the policy saw at each frame."""
    dt: float = ArenaConfig().dt
    """Control period [s]."""

    def __len__(self) -> int:
        return len(self.robot)


def trace_episode(policy: Policy, seconds: float, seed: int,
                  arena_cfg: ArenaConfig | None = None,
                  spawn_cfg: SpawnConfig | None = None, make_arena: ArenaFactory = Arena,
                  observe: Callable[[Arena], None] | None = None,
                  sensing: SensorConfig | None = None,
                  tracker: TrackerConfig | None = None) -> EpisodeTrace:
    """Run one arena (of the simulator `make_arena` builds) for `seconds` and keep every pose;
    `observe(arena)` sees the state after every step (a camera, for one). With `sensing` the
    policy drives on what the detector and tracker make of the balls (`core.perception`), and
    the trace keeps the reports and tracks too."""
    with make_arena(1, arena_cfg, spawn_cfg, seed=seed) as arena:
        view = perceive(arena, sensing, tracker, seed=seed)
        policy.reset(view)
        tr = EpisodeTrace(dt=arena.cfg.dt)
        hits = balls = 0
        for tick in range(round(seconds * arena.cfg.control_rate_hz)):
            command = float(np.clip(policy.act(view)[0], -arena.cfg.speed_limit,
                                    arena.cfg.speed_limit))
            out = view.step(command)
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
            if isinstance(view, PerceivedArena):
                det = view.last_detections
                tr.detections.append(np.zeros((0, 2)) if det is None
                                     else det.world()[0, det.mask[0]])
                tr.tracks.append(view.ball_pos[0, view.alive[0]].copy())
            if observe is not None:
                observe(arena)
    return tr
