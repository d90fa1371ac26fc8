"""`dodge_sim`: the embedded simulator, the default stand-in for Gazebo.

Steps the core arena for one robot at `control_rate_hz * real_time_factor` (wall clock), applies
the latest `cmd_vel`, and publishes what a Gazebo world with p3d plugins would: robot `odom`, one
`balls/odom` message per live ball (`child_frame_id` = ball name), plus `balls/outcome` and,
optionally, `/clock` so the rest of the graph can run on sim time (faster than real time too).
Balls come from the `ball_spawner` through `balls/spawn` (`spawner: node`); a request is stamped
with the tick it was made for and the ball is placed where it would be now (balls fly straight),
so when the request arrives does not change the ball's path. With `spawner: sim` the simulator
throws its own balls with the arena's own code and random stream (the spawn parameters and
`seed` of the `ball_spawner` section): the same balls at the same ticks as `dodge-lstm eval
--arenas 1` with that seed, which makes a lockstep graph the arena's exact twin.

Lockstep (`lockstep:=true`), like Gazebo's lockstep with a controller: after publishing a tick
the simulator waits for the driver's answer (the next `cmd_vel`) and steps at once, or steps
anyway after `lockstep_timeout` wall seconds (counted). Until the driver's first answer it holds
the first tick (publishing it again every `lockstep_timeout`) instead of stepping: the world
does not move before its driver is up. The graph then runs as fast as its nodes can go, and its
result no longer depends on machine load.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from nav_msgs.msg import Odometry
from rclpy.clock import Clock as RosClock
from rclpy.clock import ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from std_msgs.msg import String

from dodge_lstm.core.arena import Arena, Outcomes
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.odometry import ball_state, finite_odometry, stamp_ns
from dodge_lstm.core.outcomes import ball_name
from dodge_lstm.ros.messages import (
    command_angular_z,
    command_linear_x,
    command_type,
    outcome_to_msg,
    quaternion_from_yaw,
)
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, declare_config, destroyed_if_refused, live_parameters
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS, STATE_QOS


class DodgeSim(Node):
    """One robot, balls on request, swept collisions."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("dodge_sim", **kwargs)
        self.cfg = declare_config(self, ArenaConfig(), why="read-only: the world's physics, "
                                  "fixed for a run; restart the simulator to change it")
        self.real_time_factor = declare(self, "real_time_factor", 1.0,
                                        "Simulated seconds per wall second (>1 runs faster)",
                                        read_only=False)
        self.publish_clock = declare(self, "publish_clock", True,
                                     "Publish /clock so other nodes can use_sim_time")
        self.cmd_timeout = declare(self, "cmd_timeout", 0.5,
                                   "Stop the robot if no cmd_vel arrived for this long [s]",
                                   read_only=False)
        yaw = declare(self, "robot_yaw", 0.0, "Initial robot heading in the odom frame [rad]")
        max_balls = declare(self, "max_balls", 8, "Balls the world holds at once; a spawn "
                            "request beyond that is answered with a `rejected` outcome")
        self.odom_frame = declare(self, "odom_frame", "odom", "World frame id")
        self.base_frame = declare(self, "base_frame", "base_link", "Robot frame id")
        self.lockstep = declare(self, "lockstep", False,
                                "Step only when the driver answered the last tick (or "
                                "lockstep_timeout passed): as fast as the graph can go")
        self.stamped = declare(self, "stamped", False, "Take cmd_vel as "
                               "geometry_msgs/TwistStamped (nav2's default) instead of Twist")
        self.lockstep_timeout = declare(self, "lockstep_timeout", 0.5,
                                        "Wall seconds to wait for the driver's answer in "
                                        "lockstep before stepping anyway (counted)",
                                        read_only=False)
        self.spawner = declare(self, "spawner", "node", "Who throws the balls: node (requests "
                               "on balls/spawn, from ball_spawner) or sim (this node, with the "
                               "arena's own draws: the spawn parameters and seed below)")
        spawn = declare_config(self, SpawnConfig(), why="read-only: with spawner sim, how "
                               "this node throws balls (as ball_spawner's parameter)")
        seed = declare(self, "seed", 0, "With spawner sim: the random seed of the throws (as "
                       "`dodge-lstm eval --seed`)")
        if self.real_time_factor <= 0:
            raise ValueError("real_time_factor must be > 0")
        if self.lockstep_timeout <= 0:
            raise ValueError("lockstep_timeout must be > 0")
        if self.spawner not in ("node", "sim"):
            raise ValueError(f"spawner must be node or sim, got {self.spawner!r}")
        if self.spawner == "sim":  # exactly `evaluate`'s Arena(1, ..., seed=seed)
            self.arena = self.build_arena(spawn, seed, yaw, auto_spawn=True)
        else:
            self.arena = self.build_arena(SpawnConfig(num_balls=max_balls), 0, yaw,
                                          auto_spawn=False)
        self.names: dict[int, str] = {}
        self.cmd = 0.0
        self.turn = 0.0
        self.cmd_tick = -(10**9)
        self.rejected_cmds = 0
        self.rejected_spawns = 0
        self.lockstep_timeouts = 0
        """Lockstep ticks stepped without an answer (also before the driver is up)."""

        self.odom_pub = self.create_publisher(Odometry, "odom", STATE_QOS)
        self.balls_pub = self.create_publisher(Odometry, "balls/odom", STATE_QOS)
        self._odom_msg = Odometry()
        self._ball_msg = Odometry()
        self._ball_msg.pose.pose.orientation.w = 1.0  # balls carry no heading
        self.outcome_pub = self.create_publisher(String, "balls/outcome", EVENT_QOS)
        self.clock_pub = (self.create_publisher(Clock, "/clock", STATE_QOS)
                          if self.publish_clock else None)
        self.diag_pub = self.create_publisher(DiagnosticArray, "diagnostics", 10)
        self.create_subscription(command_type(self.stamped), "cmd_vel", self.on_cmd, CMD_QOS)
        self.create_subscription(Odometry, "balls/spawn", self.on_spawn, EVENT_QOS)
        # The tick timer at the real-time factor, or in lockstep the answer watchdog (steady
        # clock: immune to clock jumps), restarted at every step.
        if self.lockstep:
            self.timer = self.create_timer(self.timer_period_s, self.on_lockstep_timeout,
                                           clock=RosClock(clock_type=ClockType.STEADY_TIME))
        else:
            self.timer = self.create_timer(self.timer_period_s, self.on_tick)
        live_parameters(self, ("real_time_factor", "cmd_timeout", "lockstep_timeout"),
                        self.check_live, self.apply_live)
        self.publish_state()

    def build_arena(self, spawn: SpawnConfig, seed: int, yaw: float, auto_spawn: bool) -> Arena:
        """The world this node steps: one kinematic arena (`mujoco_sim` builds MuJoCo's)."""
        return Arena(1, self.cfg, spawn, seed=seed, robot_yaw=yaw, auto_spawn=auto_spawn)

    def advance(self, linear_x: float, angular_z: float) -> Outcomes:
        """One period with this command. The kinematic robot drives along its heading only, so
        `angular.z` is not applied here (it is in `mujoco_sim`)."""
        return self.arena.step(np.array([linear_x]))

    def yaw_rate(self) -> float:
        """The robot's yaw rate for `odom` [rad/s] (the kinematic robot never turns)."""
        return 0.0

    def body_velocity(self) -> tuple[float, float]:
        """The robot's velocity in `base_link` for `odom` (forward, left) [m/s]: the kinematic
        robot only moves along its heading."""
        return float(self.arena.robot_speed[0]), 0.0

    @property
    def timer_period_s(self) -> float:
        """The timer's period: a tick at the real-time factor, or the lockstep timeout."""
        return self.lockstep_timeout if self.lockstep else self.cfg.dt / self.real_time_factor

    @staticmethod
    def check_live(changes: dict[str, Any]) -> None:
        """Refuse values that would stop or break the simulation."""
        for name in ("real_time_factor", "lockstep_timeout"):
            if name in changes and not changes[name] > 0:
                raise ValueError(f"{name} must be > 0, got {changes[name]}")
        if "cmd_timeout" in changes and not changes["cmd_timeout"] >= 0:
            raise ValueError(f"cmd_timeout must be >= 0, got {changes['cmd_timeout']}")

    def apply_live(self, changes: dict[str, Any]) -> None:
        """Take the new values; a new rate or timeout changes the timer's period in place."""
        for name, value in changes.items():
            setattr(self, name, float(value))
        self.timer.timer_period_ns = round(self.timer_period_s * 1e9)

    @property
    def sim_time(self) -> Time:
        """Simulated time since start."""
        return Time(nanoseconds=round(self.arena.tick * self.cfg.dt * 1e9))

    def on_cmd(self, msg: Any) -> None:
        """Keep the newest finite linear.x and angular.z (Twist or TwistStamped); a command with
        NaN/Inf in either is dropped, counted and logged."""
        linear_x, angular_z = command_linear_x(msg), command_angular_z(msg)
        if not (math.isfinite(linear_x) and math.isfinite(angular_z)):
            self.rejected_cmds += 1
            self.get_logger().warning(f"non-finite cmd_vel rejected ({self.rejected_cmds} so far)",
                                      throttle_duration_sec=5.0)
            return
        self.cmd, self.turn = linear_x, angular_z
        self.cmd_tick = self.arena.tick
        if self.lockstep:  # the answer to the tick just published: step now
            self.timer.reset()
            self.on_tick()

    @property
    def answered(self) -> bool:
        """A driver has answered at least once (lockstep holds the first tick until then)."""
        return self.cmd_tick >= 0

    def on_lockstep_timeout(self) -> None:
        """No answer within `lockstep_timeout`: before the driver's first answer, publish the
        first tick again (the driver may have missed it); after, step with what we have, and
        count it."""
        if not self.answered:
            self.publish_state()
            return
        self.lockstep_timeouts += 1
        if self.lockstep_timeouts % 10 == 1:
            self.get_logger().info(f"lockstep: no cmd_vel within {self.lockstep_timeout} s "
                                   f"({self.lockstep_timeouts} ticks so far); stepping anyway")
        self.on_tick()

    def on_spawn(self, msg: Odometry) -> None:
        """Add the requested ball (`child_frame_id` names it) if a slot is free."""
        if self.spawner == "sim":
            self.reject_spawn(msg.child_frame_id or "?", "this simulator throws its own balls "
                              "(spawner: sim)")
            return
        if not msg.child_frame_id:
            self.rejected_spawns += 1  # no name to answer with: logged only
            self.get_logger().warning(
                f"spawn without child_frame_id rejected ({self.rejected_spawns} so far)",
                throttle_duration_sec=5.0)
            return
        if not finite_odometry(msg):
            self.reject_spawn(msg.child_frame_id, "non-finite pose or velocity")
            return
        pos, vel = ball_state(msg)
        # Placed where it is now, not where it was when requested: the same path whenever the
        # request arrives (before or after the step that followed the tick it was made for).
        late_s = max(0.0, (self.sim_time.nanoseconds - stamp_ns(msg)) * 1e-9)
        ids = self.arena.add_balls(np.array([0]), (pos + vel * late_s)[None], vel[None])
        if ids[0] < 0:
            self.reject_spawn(msg.child_frame_id, "no free slot (max_balls)")
            return
        self.names[int(ids[0])] = msg.child_frame_id

    def reject_spawn(self, name: str, why: str) -> None:
        """Count a refused request and say so on `balls/outcome`, so the spawner frees its
        slot instead of waiting forever for a ball that never flew."""
        self.rejected_spawns += 1
        self.get_logger().warning(f"spawn of {name} rejected: {why} "
                                  f"({self.rejected_spawns} so far)", throttle_duration_sec=5.0)
        self.outcome_pub.publish(outcome_to_msg(name, "rejected", False, self.arena.time))

    def on_tick(self) -> None:
        """Advance one control period and publish everything."""
        fresh = (self.arena.tick - self.cmd_tick) * self.cfg.dt <= self.cmd_timeout
        out = (self.advance(self.cmd, self.turn) if fresh else self.advance(0.0, 0.0))
        t = self.arena.time
        for ball_id, hit, threat in zip(out.ball_id, out.hit, out.threat):
            name = self.names.pop(int(ball_id), ball_name(ball_id))
            self.outcome_pub.publish(outcome_to_msg(name, "hit" if hit else "passed", bool(threat),
                                                    t))
        self.publish_state()
        if self.arena.tick % round(self.cfg.control_rate_hz) == 0:  # once per simulated second
            self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        """The counters of refused input and lockstep timeouts, for tools and `dodge-lstm sim`."""
        counters = {"ticks": self.arena.tick, "lockstep_timeouts": self.lockstep_timeouts,
                    "rejected_cmds": self.rejected_cmds, "rejected_spawns": self.rejected_spawns}
        status = DiagnosticStatus(level=DiagnosticStatus.OK, name=self.get_name(),
                                  message="simulator counters",
                                  values=[KeyValue(key=k, value=str(v))
                                          for k, v in counters.items()])
        arr = DiagnosticArray(status=[status])
        arr.header.stamp = self.sim_time.to_msg()
        self.diag_pub.publish(arr)

    def publish_state(self) -> None:
        """Clock first, then balls (newest first), then the robot.

        An rclpy executor takes one message per subscription per round, so a consumer with
        balls/odom and odom ready may run its odom callback after only the first ball of the
        tick. That costs nothing for a ball it already tracks (its last state, propagated at
        constant velocity, is exact) but hides a ball seen for the first time: so the newest
        ball goes first."""
        stamp = self.sim_time.to_msg()
        if self.clock_pub is not None:
            self.clock_pub.publish(Clock(clock=stamp))
        a = self.arena
        alive = np.flatnonzero(a.alive[0])
        # One message object per topic, refilled: rclpy copies it out at publish, and building
        # an Odometry (two covariance arrays) per ball and tick was a measurable part of a
        # lockstep tick. Every field a tick sets is set again here.
        msg = self._ball_msg
        msg.header.stamp = stamp
        msg.header.frame_id = self.odom_frame
        for slot in alive[np.argsort(-a.ball_id[0, alive], kind="stable")]:
            msg.child_frame_id = self.names.get(int(a.ball_id[0, slot]),
                                                ball_name(a.ball_id[0, slot]))
            msg.pose.pose.position.x, msg.pose.pose.position.y = map(float, a.ball_pos[0, slot])
            msg.twist.twist.linear.x, msg.twist.twist.linear.y = map(float, a.ball_vel[0, slot])
            self.balls_pub.publish(msg)
        odom = self._odom_msg
        odom.header.stamp = stamp
        odom.header.frame_id = self.odom_frame
        odom.child_frame_id = self.base_frame
        odom.pose.pose.position.x, odom.pose.pose.position.y = map(float, a.robot_pos[0])
        odom.pose.pose.orientation = quaternion_from_yaw(float(a.robot_yaw[0]))
        odom.twist.twist.linear.x, odom.twist.twist.linear.y = self.body_velocity()
        odom.twist.twist.angular.z = self.yaw_rate()
        self.odom_pub.publish(odom)


def main(args: list[str] | None = None) -> None:
    """Run the simulator alone (`ros2 run dodge_lstm dodge_sim`)."""
    run_node(DodgeSim, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
