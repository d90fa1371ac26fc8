"""One MuJoCo dodgeball world: drive the robot, throw balls, report how each ends.

The interface mirrors the embedded arena's for one world: `throw` a ball (position and
velocity in the world frame, at ball height), `step(linear_x, angular_z)` one control period,
get back the balls resolved in it. A hit is a contact between the robot and the ball reported
by MuJoCo at any physics step of the period; a ball passes by the arena's own rule (moving away
beyond contact distance plus `pass_margin`, or beyond `despawn_distance`). Commands go through
the wheel kinematics to the velocity actuators, whose torque limits (not a clean clip) bound the
acceleration.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.physics.mjcf_world import BodyConfig, mjcf, park_position


@dataclass
class Resolved:
    """A ball that ended in the last step."""

    ball: int
    """Its pool index (what `throw` returned)."""
    hit: bool


class MujocoWorld:
    """A single world; `step` advances one control period (`arena.dt`)."""

    def __init__(self, arena: ArenaConfig | None = None, body: BodyConfig | None = None) -> None:
        self.arena = (arena or ArenaConfig()).validate()
        self.body = body or BodyConfig()
        self.model = mujoco.MjModel.from_xml_string(mjcf(self.arena, self.body))
        self.data = mujoco.MjData(self.model)
        self.substeps = round(self.arena.dt / self.model.opt.timestep)
        m = self.model
        self._robot_geoms = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n)
                                      for n in ("chassis", "wheel_left", "wheel_right",
                                                "caster_front", "caster_back")])
        self._ball_geom = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, f"ball_{i}")
                                    for i in range(self.body.pool)])
        self._ball_qpos = np.array([m.jnt_qposadr[mujoco.mj_name2id(
            m, mujoco.mjtObj.mjOBJ_JOINT, f"ball_{i}")] for i in range(self.body.pool)])
        self._ball_qvel = np.array([m.jnt_dofadr[mujoco.mj_name2id(
            m, mujoco.mjtObj.mjOBJ_JOINT, f"ball_{i}")] for i in range(self.body.pool)])
        self._robot_qpos = m.jnt_qposadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "robot")]
        self._robot_qvel = m.jnt_dofadr[mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, "robot")]
        self.flying = np.zeros(self.body.pool, dtype=bool)
        self.tick = 0
        mujoco.mj_forward(m, self.data)

    # -- state -------------------------------------------------------------------------------
    @property
    def time(self) -> float:
        return self.tick * self.arena.dt

    def robot_pose(self) -> tuple[np.ndarray, float]:
        """Position `[2]` and yaw of the robot."""
        q = self.data.qpos[self._robot_qpos: self._robot_qpos + 7]
        w, x, y, z = q[3:7]
        return q[:2].copy(), float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))

    def robot_velocity(self) -> np.ndarray:
        """World-frame linear velocity `[2]` of the robot."""
        return self.data.qvel[self._robot_qvel: self._robot_qvel + 2].copy()

    def robot_speed(self) -> float:
        """Forward speed [m/s] along the robot's heading."""
        _, yaw = self.robot_pose()
        return float(self.robot_velocity() @ np.array([np.cos(yaw), np.sin(yaw)]))

    def ball_state(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Position and velocity `[2]` of pool ball `i`."""
        p, v = self._ball_qpos[i], self._ball_qvel[i]
        return self.data.qpos[p: p + 2].copy(), self.data.qvel[v: v + 2].copy()

    # -- balls -------------------------------------------------------------------------------
    def throw(self, pos: np.ndarray, vel: np.ndarray) -> int:
        """Put a parked ball at `pos` rolling with `vel` (world frame); its index, -1 if the
        pool is empty. It starts rolling without slipping (spin = speed / radius)."""
        free = np.flatnonzero(~self.flying)
        if not free.size:
            return -1
        i = int(free[0])
        p, v, r = self._ball_qpos[i], self._ball_qvel[i], self.arena.ball_radius
        self.data.qpos[p: p + 7] = [pos[0], pos[1], r, 1.0, 0.0, 0.0, 0.0]
        # Rolling on the floor: angular velocity = z x v / r.
        self.data.qvel[v: v + 6] = [vel[0], vel[1], 0.0, -vel[1] / r, vel[0] / r, 0.0]
        self.flying[i] = True
        mujoco.mj_forward(self.model, self.data)
        return i

    def _park(self, i: int) -> None:
        p, v = self._ball_qpos[i], self._ball_qvel[i]
        self.data.qpos[p: p + 7] = [*park_position(i, self.arena), 1.0, 0.0, 0.0, 0.0]
        self.data.qvel[v: v + 6] = 0.0
        self.flying[i] = False

    # -- dynamics ----------------------------------------------------------------------------
    def step(self, linear_x: float, angular_z: float = 0.0) -> list[Resolved]:
        """One control period with this command; the balls resolved in it."""
        if not (np.isfinite(linear_x) and np.isfinite(angular_z)):
            raise ValueError("commands must be finite; reject NaN/Inf before stepping")
        a, b = self.arena, self.body
        v = float(np.clip(linear_x, -a.speed_limit, a.speed_limit))
        half = angular_z * b.wheel_base / 2.0
        self.data.ctrl[:] = [(v - half) / b.wheel_radius, (v + half) / b.wheel_radius]
        hit = np.zeros(b.pool, dtype=bool)
        unstable = self.data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number
        for _ in range(self.substeps):
            mujoco.mj_step(self.model, self.data)
            hit |= self._touching()
        if self.data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number != unstable:
            # MuJoCo has reset the state to recover: this world's run is no longer valid.
            raise RuntimeError(f"MuJoCo became unstable at t={self.data.time:.3f} s")
        self.tick += 1
        out = [Resolved(int(i), True) for i in np.flatnonzero(hit & self.flying)]
        for r in out:
            self._park(r.ball)
        robot, robot_vel = self.robot_pose()[0], self.robot_velocity()
        for i in np.flatnonzero(self.flying):
            pos, vel = self.ball_state(i)
            rel = pos - robot
            dist = float(np.hypot(*rel))
            receding = float(rel @ (vel - robot_vel)) > 0.0
            if (receding and dist > a.contact_distance + a.pass_margin) \
                    or dist > a.despawn_distance:
                out.append(Resolved(int(i), False))
                self._park(int(i))
        if out:
            mujoco.mj_forward(self.model, self.data)
        return out

    def _touching(self) -> np.ndarray:
        """Per pool ball: in contact with any robot geom now."""
        n = self.data.ncon
        if not n:
            return np.zeros(self.body.pool, dtype=bool)
        geoms = self.data.contact.geom[:n]  # [n, 2]
        robot = np.isin(geoms, self._robot_geoms)
        balls = np.concatenate([geoms[robot[:, 1], 0], geoms[robot[:, 0], 1]])
        return np.isin(self._ball_geom, balls)
