"""`ball_features`: the ring buffer between the world and the policy.

On every robot `odom` (one per simulator tick, decimated to `rate_hz` by stamp) it turns the
live balls into one feature row with the core `features.ball_features`, pushes it into the core
`features.FeatureWindow`, and publishes the window on `dodge/window` as Float32MultiArray
`(timesteps, features)`: the same code that built the training rows, so there is no skew.

The window's shape is not a parameter here: it is the shape the policy's model takes, which the
policy publishes on the latched `dodge/window_spec` whenever it loads a model (configure). Until
a spec arrives the node tracks balls but publishes no window; a new spec (the policy
reconfigured with another model) resizes the buffer, which restarts from "no ball seen yet".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.subscription import Subscription
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.core.features import FeatureWindow, WindowSpec
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.ros.messages import msg_to_outcome, msg_to_spec, window_to_msg
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, destroyed_if_refused
from dodge_lstm.ros.qos import EVENT_QOS, SPEC_QOS, STATE_QOS, WINDOW_QOS


class BallFeatures(Node):
    """Ring buffer of the last `timesteps` feature rows, sized by the policy's window spec."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("ball_features", **kwargs)
        rate = declare(self, "rate_hz", 10.0, "Rows per second (the training control rate)",
                       read_only=True)
        timeout = declare(self, "ball_timeout", 0.25,
                          "Forget a ball whose last balls/odom is older than this [s]")
        self.rows = FeatureRowBuilder(1, rate, timeout)
        self.spec: WindowSpec | None = None
        self.window: FeatureWindow | None = None
        self.last_msg: Float32MultiArray | None = None
        """The last window sent, sent again for a repeated tick."""
        self.rejected_outcomes = self.rejected_specs = 0
        self.pub = self.create_publisher(Float32MultiArray, "dodge/window", WINDOW_QOS)
        self.create_subscription(String, "dodge/window_spec", self.on_spec, SPEC_QOS)
        self.ball_sub = self.create_subscription(Odometry, "balls/odom", self.on_ball,
                                                 STATE_QOS)
        self.outcome_sub = self.create_subscription(String, "balls/outcome", self.on_outcome,
                                                    EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)
        self.get_logger().info("waiting for the policy's window spec on dodge/window_spec "
                               "(published when dodge_policy configures)")

    def on_spec(self, msg: String) -> None:
        """Size the ring buffer for the model the policy loaded."""
        try:
            spec = msg_to_spec(msg)
        except ValueError as exc:
            self.rejected_specs += 1
            self.warn_rejected(f"malformed window spec ({exc})")
            return
        if spec == self.spec:
            return
        self.spec = spec
        self.rows.num_slots = spec.num_slots
        self.window = FeatureWindow(spec.timesteps, spec.num_slots)
        self.last_msg = None
        self.get_logger().info(f"windows of {spec.timesteps} rows x {spec.num_features} "
                               f"features ({spec.num_slots} ball slots) for {spec.model}")

    @staticmethod
    def _drain(sub: Subscription, callback: Callable[[Any], None]) -> None:
        """Run `callback` on every message already delivered to `sub` (what the executor would
        take in its next rounds), in order. Same thread as the executor: nothing races."""
        with sub.handle:
            while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
                callback(taken[0])

    @property
    def rejected(self) -> int:
        """Messages rejected so far (non-finite odometry, malformed outcomes)."""
        return (self.rows.rejected + self.rows.tracker.rejected + self.rejected_outcomes
                + self.rejected_specs)

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
        if self.window is None:  # no model loaded yet: nobody to cut windows for
            return
        if self.last_msg is not None and stamp_ns(msg) == self.rows.last_row_ns:
            # The same tick again (a lockstep simulator repeats its first tick until its driver
            # answers): the same window again, no new row.
            self.pub.publish(self.last_msg)
            return
        # Everything the simulator sent for this tick before its odom: an executor takes one
        # message per subscription per round, so with two balls (or two outcomes) in a tick the
        # second would otherwise reach the row a tick late (a ball still in it after its
        # outcome, or propagated from its last state). Balls first, then outcomes: a resolved
        # ball's last message must not bring it back.
        self._drain(self.ball_sub, self.on_ball)
        self._drain(self.outcome_sub, self.on_outcome)
        rejected = self.rows.rejected
        row = self.rows.on_odom(msg)
        if row is None:
            if self.rows.rejected > rejected:
                self.warn_rejected("non-finite odom")
            return
        self.window.push(row)
        self.last_msg = window_to_msg(self.window.window()[0])
        self.pub.publish(self.last_msg)


def main(args: list[str] | None = None) -> None:
    """Run the feature node alone (`ros2 run dodge_lstm ball_features`)."""
    run_node(BallFeatures, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
