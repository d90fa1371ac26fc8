"""`mujoco_sim`: `dodge_sim`'s interface on MuJoCo physics (`sim:=mujoco`, issue 17).

The same node as the embedded simulator, under the same name (`dodge_sim`, one parameters
section) and with the same topics, parameters, lockstep and spawner modes; only the world
differs: `physics.MujocoArena` with one world. `cmd_vel`'s `linear.x` and `angular.z` go
through the wheel kinematics to torque-limited wheel motors, balls roll and slow down, a hit is
a robot-ball contact MuJoCo reports, and `odom` carries the robot's real (possibly shoved)
motion. The physical constants the arena has no notion of (masses, frictions, the wheels) are
read-only parameters of their own, with the defaults of `worlds/dodge_arena.xml`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from rclpy.executors import SingleThreadedExecutor

from dodge_lstm.core.arena import Arena, Outcomes
from dodge_lstm.core.config import SpawnConfig
from dodge_lstm.core.features import to_robot_frame
from dodge_lstm.physics.mjcf_world import BodyConfig
from dodge_lstm.physics.mujoco_arena import MujocoArena
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.nodes.sim_node import DodgeSim
from dodge_lstm.ros.parameters import declare_config

BODY_PARAMETERS = tuple(f.name for f in dataclasses.fields(BodyConfig) if f.name != "pool")
"""`BodyConfig` as parameters; the ball pool is `max_balls` (or the spawn settings' balls)."""


class MujocoSim(DodgeSim):
    """One robot on MuJoCo; everything a user talks to is `DodgeSim`'s."""

    arena: MujocoArena

    def build_arena(self, spawn: SpawnConfig, seed: int, yaw: float, auto_spawn: bool) -> Arena:
        """One MuJoCo world with this node's physical constants (threads: the calling one)."""
        body = declare_config(self, BodyConfig(), names=BODY_PARAMETERS,
                              why="read-only: the world's physics, fixed for a run")
        return MujocoArena(1, self.cfg, spawn, seed=seed, robot_yaw=yaw, auto_spawn=auto_spawn,
                           body=body, threads=0)

    def advance(self, linear_x: float, angular_z: float) -> Outcomes:
        """Both velocities through the wheels."""
        return self.arena.step(np.array([linear_x]), np.array([angular_z]))

    def yaw_rate(self) -> float:
        return float(self.arena.robot_yaw_rate[0])

    def body_velocity(self) -> tuple[float, float]:
        """Forward and sideways: a hit or a turn can slide the robot off its heading, and the
        policy's features (`core.odometry.robot_state`) take both."""
        a = self.arena
        vx, vy = to_robot_frame(a.robot_vel[:1, None, :], a.robot_yaw[:1])[0, 0]
        return float(vx), float(vy)

    def destroy_node(self) -> None:
        self.arena.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    """Run the MuJoCo simulator alone (`ros2 run dodge_lstm mujoco_sim`)."""
    run_node(MujocoSim, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
