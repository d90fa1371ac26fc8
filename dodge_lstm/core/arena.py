"""A 2-D kinematic dodgeball arena, vectorized over B independent copies.

The robot is a disc driving along its own heading (the seed's 1-D `linear.x` action) under a
speed and an acceleration limit; balls are discs on straight lines. Every array has the arena as
its first axis and the step has no Python loop over arenas or balls, so thousands of arenas step
in the time one would take in a per-object loop. Collisions are swept (see `collision`).

Outcomes: each ball ends either as a *hit* (it touched the robot) or as *passed* (it recedes past
`pass_margin` beyond contact, or is `despawn_distance` away). At spawn every ball is labelled a
*threat* if it would have hit a robot standing still from that moment on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dodge_lstm.core.collision import line_miss_distance, swept_hit
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.spawning import spawn_balls


@dataclass(frozen=True)
class Outcomes:
    """Balls resolved during one step, ordered by (arena, slot)."""

    arena: np.ndarray
    """Arena index of each resolved ball (int64)."""
    ball_id: np.ndarray
    """Per-arena ball id (int64); the ROS simulator names the ball `ball_<id>`."""
    hit: np.ndarray
    """True for a hit, False for a ball that passed."""
    threat: np.ndarray
    """True if the ball would have hit a robot that stood still."""

    def __len__(self) -> int:
        return int(self.arena.shape[0])


ArenaFactory = Callable[..., "Arena"]
"""Builds B worlds like `Arena(batch, cfg, spawn, seed=...)`: `Arena` itself, or another
simulator behind its interface (`physics.backends`)."""


class Arena:
    """B arenas with one robot and up to `spawn.num_balls` live balls each."""

    backend = "arena"
    """Which simulator this is (`physics.backends`; results record it)."""

    def __init__(
        self,
        batch: int,
        cfg: ArenaConfig | None = None,
        spawn: SpawnConfig | None = None,
        seed: int = 0,
        robot_yaw: float | np.ndarray = 0.0,
        auto_spawn: bool = True,
    ) -> None:
        self.cfg = (cfg or ArenaConfig()).validate()
        self.spawn_cfg = (spawn or SpawnConfig()).validate()
        if self.spawn_cfg.farthest_spawn >= self.cfg.despawn_distance:
            raise ValueError(f"balls spawn up to {self.spawn_cfg.farthest_spawn:.2f} m away but "
                             f"are dropped at despawn_distance={self.cfg.despawn_distance} m: "
                             f"raise despawn_distance")
        self.batch = int(batch)
        self.auto_spawn = auto_spawn
        self.rng = np.random.default_rng(seed)
        b, k = self.batch, self.spawn_cfg.num_balls
        self.tick = 0
        self.robot_pos = np.zeros((b, 2))
        self.robot_yaw = np.broadcast_to(np.asarray(robot_yaw, dtype=float), (b,)).copy()
        self.initial_yaw = self.robot_yaw.copy()
        self.robot_speed = np.zeros(b)
        self.ball_pos = np.zeros((b, k, 2))
        self.ball_vel = np.zeros((b, k, 2))
        self.alive = np.zeros((b, k), dtype=bool)
        self.threat = np.zeros((b, k), dtype=bool)
        self.ball_id = np.full((b, k), -1, dtype=np.int64)
        self.next_id = np.zeros(b, dtype=np.int64)
        self.spawn_timer = self.rng.uniform(0.0, self.spawn_cfg.delay_max, (b, k))
        self.placed: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        """Balls placed since the last step began: (arena, ball id, position, velocity) arrays
        per placement, for per-ball logs (`core.ball_records`)."""

    # -- observation -------------------------------------------------------------------------
    @property
    def heading(self) -> np.ndarray:
        """Unit vectors `[B, 2]` along each robot's heading."""
        return np.stack([np.cos(self.robot_yaw), np.sin(self.robot_yaw)], axis=-1)

    @property
    def robot_vel(self) -> np.ndarray:
        """World-frame robot velocities `[B, 2]`."""
        return self.robot_speed[:, None] * self.heading

    @property
    def time(self) -> float:
        """Simulated seconds since construction."""
        return self.tick * self.cfg.dt

    def reset_rows(self, rows: np.ndarray) -> None:
        """Put arenas `rows` back to their just-constructed state, drawing from `self.rng`.

        Robot at the origin, at rest, with its initial yaw; no balls (in-flight ones vanish
        unresolved); fresh spawn timers. Resetting every row draws the timers in the shape the
        constructor does, so a reset arena with a reseeded `rng` replays a new one exactly (what
        the Gymnasium envs rely on).
        """
        rows = np.asarray(rows, dtype=np.int64)
        self.robot_pos[rows] = 0.0
        self.robot_yaw[rows] = self.initial_yaw[rows]
        self.robot_speed[rows] = 0.0
        self.ball_pos[rows] = 0.0
        self.ball_vel[rows] = 0.0
        self.alive[rows] = False
        self.threat[rows] = False
        self.ball_id[rows] = -1
        self.next_id[rows] = 0
        self.spawn_timer[rows] = self.rng.uniform(0.0, self.spawn_cfg.delay_max,
                                                  (rows.size, self.spawn_cfg.num_balls))

    # -- balls -------------------------------------------------------------------------------
    def add_balls(self, arena: np.ndarray, pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
        """Put balls into free slots of the given arenas; returns their ids (-1: no free slot).

        The ROS spawner uses this (through the simulator) instead of `auto_spawn`.
        """
        arena = np.asarray(arena, dtype=np.int64)
        ids = np.full(arena.shape[0], -1, dtype=np.int64)
        for i, a in enumerate(arena):  # a handful of balls per call: clarity over vectorization
            free = np.flatnonzero(~self.alive[a])
            if free.size:
                self._place(np.array([a]), np.array([free[0]]), pos[i : i + 1], vel[i : i + 1])
                ids[i] = self.ball_id[a, free[0]]
        return ids

    def _place(self, arena: np.ndarray, slot: np.ndarray, pos: np.ndarray,
               vel: np.ndarray) -> None:
        counts = np.bincount(arena, minlength=self.batch)
        order = np.argsort(arena, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size) - np.repeat(np.cumsum(counts) - counts, counts)
        self.ball_id[arena, slot] = self.next_id[arena] + rank
        self.next_id += counts
        self.placed.append((arena, self.ball_id[arena, slot], pos.copy(), vel.copy()))
        self.ball_pos[arena, slot] = pos
        self.ball_vel[arena, slot] = vel
        self.alive[arena, slot] = True
        miss = line_miss_distance(pos - self.robot_pos[arena], vel)
        self.threat[arena, slot] = miss < self.cfg.contact_distance

    def _auto_spawn(self) -> None:
        empty = ~self.alive
        self.spawn_timer[empty] -= self.cfg.dt
        due_a, due_s = np.nonzero(empty & (self.spawn_timer <= 0.0))
        if due_a.size:
            pos, vel = spawn_balls(self.rng, self.robot_pos[due_a], self.robot_yaw[due_a],
                                   self.spawn_cfg)
            self._place(due_a, due_s, pos, vel)

    def close(self) -> None:
        """Free what the simulator holds (nothing here; MuJoCo's threads in `MujocoArena`)."""

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc: object) -> None:
        """`with make_arena(...) as arena:` closes it however the block ends."""
        self.close()

    # -- dynamics ----------------------------------------------------------------------------
    def step(self, command: np.ndarray | float) -> Outcomes:
        """Advance one control period with `linear.x` commands `[B]`; returns resolved balls."""
        cmd = np.broadcast_to(np.asarray(command, dtype=float), (self.batch,))
        if not np.all(np.isfinite(cmd)):
            raise ValueError("commands must be finite; reject NaN/Inf before stepping")
        self.placed = []
        cfg = self.cfg
        hit = self._advance(np.clip(cmd, -cfg.speed_limit, cfg.speed_limit))
        rel = self.ball_pos - self.robot_pos[:, None, :]
        dist = np.linalg.norm(rel, axis=-1)
        receding = np.einsum("bki,bki->bk", rel, self.ball_vel - self.robot_vel[:, None, :]) > 0
        passed = self.alive & (
            (receding & (dist > cfg.contact_distance + cfg.pass_margin))
            | (dist > cfg.despawn_distance)
        )
        self.alive &= ~passed
        resolved = hit | passed
        ra, rs = np.nonzero(resolved)
        out = Outcomes(arena=ra, ball_id=self.ball_id[ra, rs].copy(), hit=hit[ra, rs],
                       threat=self.threat[ra, rs].copy())
        if ra.size:
            self.spawn_timer[ra, rs] = self.rng.uniform(0.0, self.spawn_cfg.delay_max, ra.size)
        self.tick += 1
        if self.auto_spawn:
            self._auto_spawn()
        return out

    def _advance(self, cmd: np.ndarray) -> np.ndarray:
        """Move robots and balls one control period under clipped commands `[B]`; the balls
        that hit `[B, K]` (already no longer alive). What a physics backend replaces."""
        cfg = self.cfg
        vmax = cfg.speed_limit
        h = cfg.dt / cfg.substeps
        dv_max = cfg.accel_limit * h
        heading = self.heading
        hit = np.zeros_like(self.alive)
        for _ in range(cfg.substeps):
            v0 = self.robot_speed
            v1 = np.clip(v0 + np.clip(cmd - v0, -dv_max, dv_max), -vmax, vmax)
            robot_disp = (0.5 * (v0 + v1) * h)[:, None] * heading
            ball_disp = self.ball_vel * h
            rel0 = self.ball_pos - self.robot_pos[:, None, :]
            now = self.alive & swept_hit(rel0, ball_disp - robot_disp[:, None, :],
                                         cfg.contact_distance)
            hit |= now
            self.alive &= ~now
            self.robot_pos += robot_disp
            self.ball_pos += ball_disp
            self.robot_speed = v1
        return hit
