"""`ball_features`: the ring buffer between the world and the policy.

On every robot `odom` (one per simulator tick, decimated to `rate_hz` by stamp) it turns the
live balls into one feature row with the core `features.ball_features`, pushes it into the core
`features.FeatureWindow`, and publishes the window on `dodge/window` as Float32MultiArray
`(timesteps, features)`: the same code that built the training rows, so there is no skew.

With `input: detections` (a graph that senses: `sensing:=realistic`) the balls come from the
detector instead (`balls/detections`, PoseArray in base_link stamped at capture): each report is
fused by the tracker the model was trained with (`tracker` in its window spec; this node's
`tracker` parameter for a model trained on ground truth) and the row is built from the tracks at
the robot's newest tick (`core.detection_rows`, the code `PerceivedArena` and bag import run).
The robot never reads `balls/odom` or `balls/outcome` then.

The window's shape is not a parameter here: it is the shape the policy's model takes, which the
policy publishes on the latched `dodge/window_spec` whenever it loads a model (configure). Until
a spec arrives the node tracks balls but publishes no window; a new spec (the policy
reconfigured with another model) resizes the buffer, which restarts from "no ball seen yet".
"""

from __future__ import annotations

from geometry_msgs.msg import PoseArray
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.core.detection_rows import ROW_INPUTS, DetectionRowBuilder
from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.core.features import FeatureWindow, WindowSpec
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.core.tracking import DEFAULT_TRACKER, TRACKERS
from dodge_lstm.ros.delivered import drain
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
        self.input = declare(self, "input", "balls", "Where balls come from: balls (the "
                             "simulator's balls/odom, ground truth) or detections "
                             "(balls/detections through a tracker)")
        self.default_tracker = declare(self, "tracker", DEFAULT_TRACKER, "With input "
                                       "detections, for a model trained on ground truth: kf "
                                       "(association + constant-velocity Kalman filter), cv "
                                       "(the same, fixed alpha-beta gains) or raw (newest "
                                       "detection, finite-difference velocity); a model "
                                       "trained on detections brings its own (window spec)")
        if self.input not in ROW_INPUTS:
            raise ValueError(f"input must be balls or detections, got {self.input!r}")
        if self.default_tracker not in TRACKERS:
            raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, got "
                             f"{self.default_tracker!r}")
        self.rate = rate
        self.rows = FeatureRowBuilder(1, rate, timeout)
        self.detection_rows: DetectionRowBuilder | None = None
        self.spec: WindowSpec | None = None
        self.window: FeatureWindow | None = None
        self.last_msg: Float32MultiArray | None = None
        """The last window sent, sent again for a repeated tick."""
        self.rejected_outcomes = self.rejected_specs = 0
        self.pub = self.create_publisher(Float32MultiArray, "dodge/window", WINDOW_QOS)
        self.create_subscription(String, "dodge/window_spec", self.on_spec, SPEC_QOS)
        if self.input == "balls":
            self.ball_sub = self.create_subscription(Odometry, "balls/odom", self.on_ball,
                                                     STATE_QOS)
            self.outcome_sub = self.create_subscription(String, "balls/outcome",
                                                        self.on_outcome, EVENT_QOS)
        else:
            self.create_subscription(PoseArray, "balls/detections", self.on_detections,
                                     STATE_QOS)
        self.odom_sub = self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)
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
        how = ""
        if self.input == "detections":
            tracker = spec.tracker or self.default_tracker
            self.detection_rows = DetectionRowBuilder(spec.num_slots, self.rate,
                                                      TRACKERS[tracker])
            how = f", from balls/detections through the {tracker} tracker"
        self.get_logger().info(f"windows of {spec.timesteps} rows x {spec.num_features} "
                               f"features ({spec.num_slots} ball slots) for {spec.model}{how}")

    @property
    def rejected(self) -> int:
        """Messages rejected so far (non-finite odometry or detections, malformed outcomes or
        specs, reports captured at no known robot pose)."""
        detections = 0 if self.detection_rows is None else self.detection_rows.rejected
        return (self.rows.rejected + self.rows.tracker.rejected + self.rejected_outcomes
                + self.rejected_specs + detections)

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

    def on_detections(self, msg: PoseArray) -> None:
        """Fuse one report (input detections): the row of the robot's newest tick, pushed and
        published; the same window again for a second report at the same tick."""
        if self.window is None or self.detection_rows is None:
            return
        # The report answers the newest odom: take any odom already delivered first.
        drain(self.odom_sub, self.on_odom)
        builder = self.detection_rows
        rejected, fused = builder.rejected, builder.fused_tick
        row = builder.on_detections(msg)
        if row is None:
            if builder.rejected > rejected:
                self.warn_rejected("detections with a non-finite position or no robot pose at "
                                   "their capture stamp")
            return
        if builder.fused_tick == fused and self.last_msg is not None:
            self.pub.publish(self.last_msg)
            return
        self.window.push(row)
        self.last_msg = window_to_msg(self.window.window()[0])
        self.pub.publish(self.last_msg)

    def on_odom(self, msg: Odometry) -> None:
        """Push one row per control period and publish the window (input balls); with input
        detections, keep the robot's state for the next report."""
        if self.window is None:  # no model loaded yet: nobody to cut windows for
            return
        if self.detection_rows is not None:
            rejected = self.detection_rows.rejected
            if not self.detection_rows.on_odom(msg) and self.detection_rows.rejected > rejected:
                self.warn_rejected("non-finite odom")
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
        drain(self.ball_sub, self.on_ball)
        drain(self.outcome_sub, self.on_outcome)
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
