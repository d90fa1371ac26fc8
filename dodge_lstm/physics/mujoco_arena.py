"""B MuJoCo worlds behind the embedded arena's interface: the second simulator (issue 17).

`MujocoArena` is an `Arena` whose `_advance` is MuJoCo physics instead of the kinematic disc:
everything else, the spawner's random stream, threat labels, the pass rule, outcomes and ball
ids, is the arena's own code, so the same seed throws the same balls at the same ticks in both
simulators and a policy, a tracker or an evaluation reads either one unchanged. What differs is
what happens after the throw (docs/DESIGN.md, "Two simulators"): balls roll and slow down and
can glance off each other, the robot has inertia, wheel torque limits and a heading that a hit
can turn, and a hit is a contact MuJoCo reports (a `contact` sensor per ball, read at each of
the 50 physics steps of a control period), not a swept circle test.

All worlds share one `MjModel` and step together through `mujoco.rollout` on a thread pool,
one control period per call, so the physics of B worlds runs in C on every core without the
GIL. The arena's state arrays are refreshed from the MuJoCo state after each period.
"""

from __future__ import annotations

import dataclasses
import os

import mujoco
import numpy as np
from mujoco import rollout

from dodge_lstm.core.arena import Arena, Outcomes
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.physics.mjcf_world import BodyConfig, mjcf, park_position

STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS
"""What `rollout` carries from one period to the next: time, qpos, qvel, actuator state."""


RANDOMIZED = ("robot_mass", "ball_mass", "wheel_friction", "floor_friction", "torque_scale",
              "ball_rolling_friction")
"""What randomised physics varies per world: masses, frictions and the motors' strength."""


def randomized_bodies(body: BodyConfig, n: int, spread: float, seed: int) -> list[BodyConfig]:
    """`n` copies of `body`, each field of `RANDOMIZED` scaled by a factor drawn uniformly from
    [1 - spread, 1 + spread] (all `body` when `spread` is 0)."""
    if not 0.0 <= spread < 1.0:
        raise ValueError(f"randomize must be in [0, 1), got {spread}")
    if spread == 0.0:
        return [body] * n
    rng = np.random.default_rng([seed, 0xB0D1])  # not the spawner's stream
    factors = rng.uniform(1.0 - spread, 1.0 + spread, (n, len(RANDOMIZED)))
    return [dataclasses.replace(body, **{k: getattr(body, k) * float(f)
                                         for k, f in zip(RANDOMIZED, row, strict=True)})
            for row in factors]


def default_threads(batch: int) -> int:
    """One rollout thread per core, no more than worlds; 0 (the calling thread) for one."""
    return 0 if batch < 2 else min(batch, os.cpu_count() or 1)


class MujocoArena(Arena):
    """`Arena` on MuJoCo: B worlds, a pool of `spawn.num_balls` ball bodies each."""

    backend = "mujoco"

    def __init__(
        self,
        batch: int,
        cfg: ArenaConfig | None = None,
        spawn: SpawnConfig | None = None,
        seed: int = 0,
        robot_yaw: float | np.ndarray = 0.0,
        auto_spawn: bool = True,
        body: BodyConfig | None = None,
        threads: int | None = None,
        randomize: float = 0.0,
    ) -> None:
        super().__init__(batch, cfg, spawn, seed, robot_yaw, auto_spawn)
        pool = self.spawn_cfg.num_balls
        self.body = dataclasses.replace(body or BodyConfig(), pool=pool)
        self.model = mujoco.MjModel.from_xml_string(mjcf(self.cfg, self.body))
        if randomize:
            self.backend = f"mujoco±{randomize:g}"
        self.bodies = randomized_bodies(self.body, self.batch, randomize, seed)
        """Each world's physical constants: `body` everywhere, or with `randomize` each drawn
        around it (domain randomisation; its own random stream, so the balls stay the same)."""
        self.models: mujoco.MjModel | list[mujoco.MjModel] = (
            self.model if not randomize
            else [mujoco.MjModel.from_xml_string(mjcf(self.cfg, b)) for b in self.bodies])
        m = self.model
        self.substeps = round(self.cfg.dt / m.opt.timestep)
        if not np.isclose(self.substeps * m.opt.timestep, self.cfg.dt):
            raise ValueError(f"the physics step {m.opt.timestep} s must divide the control "
                             f"period {self.cfg.dt} s")
        self._pool = rollout.Rollout(nthread=default_threads(batch) if threads is None
                                     else threads)
        self._datas = [mujoco.MjData(m) for _ in range(max(1, self._pool.nthread))]

        def joint(name: str) -> tuple[int, int]:
            j = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, name)
            return 1 + m.jnt_qposadr[j], 1 + m.nq + m.jnt_dofadr[j]  # offsets in the state

        self._robot_q, self._robot_v = joint("robot")
        ball = np.array([joint(f"ball_{i}") for i in range(pool)]).reshape(pool, 2)
        self._ball_q, self._ball_v = ball[:, 0], ball[:, 1]
        self._sensor = np.array([m.sensor_adr[mujoco.mj_name2id(
            m, mujoco.mjtObj.mjOBJ_SENSOR, f"robot_touches_ball_{i}")] for i in range(pool)])
        start = mujoco.MjData(m)
        mujoco.mj_forward(m, start)
        self._start = np.empty(mujoco.mj_stateSize(m, STATE))
        mujoco.mj_getState(m, start, self._start, STATE)
        self.state = np.tile(self._start, (self.batch, 1))
        """The MuJoCo state of each world `[B, nstate]`, the physics' source of truth."""
        self.turn = np.zeros(self.batch)
        """`angular.z` commands [rad/s] for the next step (the arena's policies only drive
        `linear.x`; the ROS simulator passes cmd_vel's)."""
        self.in_world = np.zeros((self.batch, pool), dtype=bool)
        """Balls thrown and not yet parked again."""
        self._robot_world_vel = np.zeros((self.batch, 2))
        self._set_robot_rows(np.arange(self.batch))
        self._sync()

    # -- state -------------------------------------------------------------------------------
    @property
    def robot_vel(self) -> np.ndarray:
        """World-frame robot velocities `[B, 2]`: MuJoCo's, which a hit can push sideways."""
        return self._robot_world_vel

    @property
    def robot_yaw_rate(self) -> np.ndarray:
        """Yaw rates `[B]` [rad/s] (the free joint's angular velocity about its own z axis,
        the vertical while the robot stands on its wheels)."""
        return self.state[:, self._robot_v + 5].copy()

    def _set_robot_rows(self, rows: np.ndarray) -> None:
        """Robot at the origin at rest with its initial yaw; every ball parked."""
        s = self.state
        s[rows] = self._start
        q = self._robot_q
        half = 0.5 * self.initial_yaw[rows]
        s[rows, q + 3] = np.cos(half)
        s[rows, q + 4: q + 6] = 0.0
        s[rows, q + 6] = np.sin(half)
        self.in_world[rows] = False

    def _sync(self) -> None:
        """The arena's arrays from the MuJoCo state."""
        s, q, v = self.state, self._robot_q, self._robot_v
        self.robot_pos = s[:, q: q + 2].copy()
        w, x, y, z = (s[:, q + 3 + i] for i in range(4))
        self.robot_yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        self._robot_world_vel = s[:, v: v + 2].copy()
        self.robot_speed = np.einsum("bi,bi->b", self._robot_world_vel, self.heading)
        self.ball_pos = np.stack([s[:, self._ball_q], s[:, self._ball_q + 1]], axis=-1)
        self.ball_vel = np.stack([s[:, self._ball_v], s[:, self._ball_v + 1]], axis=-1)

    def reset_rows(self, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        super().reset_rows(rows)
        self._set_robot_rows(rows)
        self._sync()

    # -- balls -------------------------------------------------------------------------------
    def _place(self, arena: np.ndarray, slot: np.ndarray, pos: np.ndarray,
               vel: np.ndarray) -> None:
        """The arena's bookkeeping, then the pool ball of each slot thrown from `pos`, rolling
        without slipping at `vel` (spin = z x v / radius)."""
        super()._place(arena, slot, pos, vel)
        s, r = self.state, self.cfg.ball_radius
        q, v = self._ball_q[slot], self._ball_v[slot]
        s[arena, q], s[arena, q + 1], s[arena, q + 2] = pos[:, 0], pos[:, 1], r
        s[arena, q + 3], s[arena, q + 4], s[arena, q + 5], s[arena, q + 6] = 1.0, 0.0, 0.0, 0.0
        s[arena, v], s[arena, v + 1], s[arena, v + 2] = vel[:, 0], vel[:, 1], 0.0
        s[arena, v + 3], s[arena, v + 4], s[arena, v + 5] = -vel[:, 1] / r, vel[:, 0] / r, 0.0
        self.in_world[arena, slot] = True
        self.ball_pos[arena, slot] = pos
        self.ball_vel[arena, slot] = vel

    def _park(self) -> None:
        """Balls that ended (hit or passed) go back to their parking spots, at rest."""
        rows, slots = np.nonzero(self.in_world & ~self.alive)
        if not rows.size:
            return
        s = self.state
        for b, k in zip(rows, slots, strict=True):
            q, v = self._ball_q[k], self._ball_v[k]
            s[b, q: q + 7] = [*park_position(int(k), self.cfg), 1.0, 0.0, 0.0, 0.0]
            s[b, v: v + 6] = 0.0
        self.in_world[rows, slots] = False

    # -- dynamics ----------------------------------------------------------------------------
    def step(self, command: np.ndarray | float, angular_z: np.ndarray | float | None = None
             ) -> Outcomes:
        """The arena's step; `angular_z` `[B]` (rad/s, default: keep `turn`) turns the robot
        through the wheels as cmd_vel's `angular.z` would."""
        if angular_z is not None:
            turn = np.broadcast_to(np.asarray(angular_z, dtype=float), (self.batch,))
            if not np.all(np.isfinite(turn)):
                raise ValueError("commands must be finite; reject NaN/Inf before stepping")
            self.turn = turn.copy()
        out = super().step(command)
        self._park()
        return out

    def _advance(self, cmd: np.ndarray) -> np.ndarray:
        """One control period of MuJoCo in every world: wheel speeds from (cmd, turn), 50
        physics steps, a hit wherever a robot-ball contact sensor fired at any of them."""
        b = self.body
        half = self.turn * b.wheel_base / 2.0
        ctrl = np.stack([(cmd - half) / b.wheel_radius, (cmd + half) / b.wheel_radius], -1)
        before = self._unstable_count()
        state, sensed = self._pool.rollout(self.models, self._datas, self.state,
                                           ctrl[:, None, :], nstep=self.substeps)
        if self._unstable_count() != before or not np.all(np.isfinite(state[:, -1])):
            # MuJoCo reset the state to recover: this run is no longer a valid experiment.
            raise RuntimeError(f"MuJoCo became unstable in the period ending at "
                               f"t={(self.tick + 1) * self.cfg.dt:.1f} s")
        self.state = state[:, -1].copy()
        hit = self.alive & (sensed[:, :, self._sensor].max(axis=1) > 0)
        self.alive &= ~hit
        self._sync()
        return hit

    def _unstable_count(self) -> int:
        return sum(d.warning[mujoco.mjtWarning.mjWARN_BADQACC].number for d in self._datas)

    def close(self) -> None:
        """Stop the rollout threads (also at garbage collection)."""
        if self._pool.rollout_ is not None:
            self._pool.close()
