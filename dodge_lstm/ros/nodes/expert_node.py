"""`expert_driver`: drives the robot with the core expert (for data collection).

Same observations as the feature node (robot `odom`, `balls/odom`, `balls/outcome`), the same
robot-frame conversion, and the core `expert.expert_command`; one command per robot state.
`teleop_twist_keyboard` publishes the same `cmd_vel` for human demonstrations.

As a shadow (`dodge-lstm sim --label expert`, `sim.launch.py label:=expert`) the same node runs
renamed `expert_shadow` with `cmd_vel` remapped to `expert/cmd_vel` and `stamped` on, next to a
learner that drives: each answer carries the stamp of the odom it answers, so the DAgger labels
pair with a bag's rows exactly (`dodge-lstm dataset --label-topic expert/cmd_vel`).
"""

from __future__ import annotations

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.expert import expert_command
from dodge_lstm.core.feature_rows import BallTracker
from dodge_lstm.core.features import to_robot_frame
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns
from dodge_lstm.ros.messages import command_msg, command_type, msg_to_outcome
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import (
    config_updater,
    declare,
    declare_config,
    destroyed_if_refused,
    live_parameters,
)
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS, STATE_QOS

# The ArenaConfig fields the expert plans with; declared from the dataclass (defaults, docs).
ARENA_FIELDS = ("robot_radius", "speed_limit", "accel_limit", "ball_radius")


class ExpertDriver(Node):
    """Publishes the expert's `cmd_vel` for every robot state."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("expert_driver", **kwargs)
        # Live: the planner reads them at every tick (a set is validated by ArenaConfig).
        self.arena_cfg = declare_config(self, ArenaConfig(), read_only=False,
                                        names=ARENA_FIELDS)
        check, apply = config_updater(lambda: self.arena_cfg,
                                      lambda cfg: setattr(self, "arena_cfg", cfg))
        live_parameters(self, ARENA_FIELDS, check, apply)
        self.tracker = BallTracker(declare(self, "ball_timeout", 0.25,
                                           "Forget a ball not seen for this long [s]"))
        self.rejected = 0
        """Bad odometry and malformed outcomes, logged (throttled) with this count."""
        self.stamped = declare(self, "stamped", False, "Publish cmd_vel as "
                               "geometry_msgs/TwistStamped (nav2's default) instead of Twist")
        self.pub = self.create_publisher(command_type(self.stamped), "cmd_vel", CMD_QOS)
        self.create_subscription(Odometry, "balls/odom", self.on_ball, STATE_QOS)
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    def reject(self, what: str) -> None:
        """Count a bad message and say so, at most every 5 s."""
        self.rejected += 1
        self.get_logger().warning(f"{what} rejected ({self.rejected} rejected so far)",
                                  throttle_duration_sec=5.0)

    def on_ball(self, msg: Odometry) -> None:
        """Track one ball."""
        if not self.tracker.update(msg):
            self.reject("balls/odom without a name or a finite state")

    def on_outcome(self, msg: String) -> None:
        """Drop resolved balls at once."""
        try:
            self.tracker.remove(msg_to_outcome(msg)["ball"])
        except ValueError as exc:
            self.reject(f"malformed outcome ({exc})")

    def on_odom(self, msg: Odometry) -> None:
        """Plan and publish one command."""
        if not finite_odometry(msg):
            self.reject("non-finite odom")
            return
        pos, yaw, _ = robot_state(msg)
        bpos, bvel, mask, _ = self.tracker.arrays(stamp_ns(msg))
        yaws = np.array([yaw])
        rel = to_robot_frame(bpos - pos[None, None, :], yaws)
        vel = to_robot_frame(bvel, yaws)
        cmd = expert_command(rel, vel, mask, np.array([msg.twist.twist.linear.x]),
                             self.arena_cfg)
        # Stamped with the state it answers: the tick's own time.
        self.pub.publish(command_msg(float(cmd[0]), self.stamped, msg.header.stamp))


def main(args: list[str] | None = None) -> None:
    """Run the expert driver alone (`ros2 run dodge_lstm expert_driver`)."""
    run_node(ExpertDriver, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
