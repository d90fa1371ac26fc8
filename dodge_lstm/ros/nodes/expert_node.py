"""`expert_driver`: drives the robot with the core expert (for data collection).

Same observations as the feature node (robot `odom`, `balls/odom`, `balls/outcome`), the same
robot-frame conversion, and the core `expert.expert_command`; one command per robot state.
`teleop_twist_keyboard` publishes the same `cmd_vel` for human demonstrations.
"""

from __future__ import annotations

import numpy as np
from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.node import Node
from std_msgs.msg import String

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.expert import expert_command
from dodge_lstm.core.feature_rows import BallTracker
from dodge_lstm.core.features import to_robot_frame
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns
from dodge_lstm.ros.messages import msg_to_outcome
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS, STATE_QOS


class ExpertDriver(Node):
    """Publishes the expert's `cmd_vel` for every robot state."""

    def __init__(self, **kwargs) -> None:
        super().__init__("expert_driver", **kwargs)
        d = ArenaConfig()
        self.arena_cfg = ArenaConfig(
            speed_limit=declare(self, "speed_limit", d.speed_limit, "Largest |linear.x| [m/s]"),
            accel_limit=declare(self, "accel_limit", d.accel_limit,
                                "Acceleration limit the planner assumes [m/s^2]"),
            robot_radius=declare(self, "robot_radius", d.robot_radius, "Robot radius [m]"),
            ball_radius=declare(self, "ball_radius", d.ball_radius, "Ball radius [m]"),
        ).validate()
        self.tracker = BallTracker(declare(self, "ball_timeout", 0.25,
                                           "Forget a ball not seen for this long [s]"))
        self.rejected = 0
        self.pub = self.create_publisher(Twist, "cmd_vel", CMD_QOS)
        self.create_subscription(Odometry, "balls/odom", self.tracker.update, STATE_QOS)
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    def on_outcome(self, msg: String) -> None:
        """Drop resolved balls at once."""
        try:
            self.tracker.remove(msg_to_outcome(msg)["ball"])
        except ValueError:
            self.rejected += 1

    def on_odom(self, msg: Odometry) -> None:
        """Plan and publish one command."""
        if not finite_odometry(msg):
            self.rejected += 1
            return
        pos, yaw, _ = robot_state(msg)
        bpos, bvel, mask, _ = self.tracker.arrays(stamp_ns(msg))
        yaws = np.array([yaw])
        rel = to_robot_frame(bpos - pos[None, None, :], yaws)
        vel = to_robot_frame(bvel, yaws)
        cmd = expert_command(rel, vel, mask, np.array([msg.twist.twist.linear.x]),
                             self.arena_cfg)
        out = Twist()
        out.linear.x = float(cmd[0])
        self.pub.publish(out)


def main(args: list[str] | None = None) -> None:
    """Run the expert driver alone (`ros2 run dodge_lstm expert_driver`)."""
    run_node(ExpertDriver, args)


if __name__ == "__main__":
    main()
