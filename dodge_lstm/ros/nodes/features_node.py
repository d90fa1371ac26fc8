"""`ball_features`: the ring buffer between the world and the policy.

On every robot `odom` (one per simulator tick, decimated to `rate_hz` by stamp) it turns the
live balls into one feature row with the core `features.ball_features`, pushes it into the core
`features.FeatureWindow`, and publishes the window on `dodge/window` as Float32MultiArray
`(timesteps, features)`: the same code that built the training rows, so there is no skew.
"""

from __future__ import annotations

from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.core.features import FeatureWindow
from dodge_lstm.ros.messages import msg_to_outcome, window_to_msg
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, destroyed_if_refused
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS, WINDOW_QOS


class BallFeatures(Node):
    """Ring buffer of the last `timesteps` feature rows."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("ball_features", **kwargs)
        self.timesteps = declare(self, "timesteps", 5, "Rows per window (the LSTM's N)",
                                 read_only=True)
        num_slots = declare(self, "num_slots", 2, "Ball slots per row (4 features each)",
                            read_only=True)
        rate = declare(self, "rate_hz", 10.0, "Rows per second (the training control rate)",
                       read_only=True)
        timeout = declare(self, "ball_timeout", 0.25,
                          "Forget a ball whose last balls/odom is older than this [s]")
        self.rows = FeatureRowBuilder(num_slots, rate, timeout)
        self.window = FeatureWindow(self.timesteps, num_slots)
        self.rejected_outcomes = 0
        self.pub = self.create_publisher(Float32MultiArray, "dodge/window", WINDOW_QOS)
        self.create_subscription(Odometry, "balls/odom", self.on_ball, STATE_QOS)
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    @property
    def rejected(self) -> int:
        """Messages rejected so far (non-finite odometry, malformed outcomes)."""
        return self.rows.rejected + self.rows.tracker.rejected + self.rejected_outcomes

    def warn_rejected(self, what: str) -> None:
        """Say that a message was rejected (counted by the caller), at most every 5 s."""
        self.get_logger().warning(f"{what} rejected ({self.rejected} rejected so far)",
                                  throttle_duration_sec=5.0)

    def on_ball(self, msg: Odometry) -> None:
        """Track one ball (the tracker counts bad messages)."""
        if not self.rows.tracker.update(msg):
            self.warn_rejected("balls/odom without a name or a finite state")

    def on_outcome(self, msg: String) -> None:
        """A resolved ball leaves the rows at once."""
        try:
            self.rows.on_outcome(msg_to_outcome(msg)["ball"])
        except ValueError as exc:
            self.rejected_outcomes += 1
            self.warn_rejected(f"malformed outcome ({exc})")

    def on_odom(self, msg: Odometry) -> None:
        """Push one row per control period and publish the window."""
        rejected = self.rows.rejected
        row = self.rows.on_odom(msg)
        if row is None:
            if self.rows.rejected > rejected:
                self.warn_rejected("non-finite odom")
            return
        self.window.push(row)
        self.pub.publish(window_to_msg(self.window.window()[0]))


def main(args: list[str] | None = None) -> None:
    """Run the feature node alone (`ros2 run dodge_lstm ball_features`)."""
    run_node(BallFeatures, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
