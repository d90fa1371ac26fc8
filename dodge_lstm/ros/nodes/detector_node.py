"""`ball_detector`: what a robot's ball detector would report, made from the true state.

On every robot `odom` tick it captures the true balls (`balls/odom`, minus those an outcome
resolved) through the core sensor model (`core.sensing.Sensor`: noise, misses, false
detections, field of view, range) and publishes the capture made `latency` earlier on
`balls/detections`: `geometry_msgs/PoseArray` in `base_link`, stamped at capture time, ball
centres only (no velocities, no identities: the feature node's tracker infers those). While the
latency pipe fills it publishes an empty report stamped now, so every tick gets one report; a
repeated tick (a lockstep simulator holding its first) gets the same report again.

The sensing preset and its knobs are parameters (`sensing` realistic by default, each knob
overridable); `seed` seeds the noise.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import Pose, PoseArray
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from dodge_lstm.core.detection_rows import control_tick
from dodge_lstm.core.feature_rows import BallTracker
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns
from dodge_lstm.core.sensing import PRESETS, Sensor
from dodge_lstm.ros.delivered import drain
from dodge_lstm.ros.messages import msg_to_outcome
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, declare_config, destroyed_if_refused
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS


class BallDetector(Node):
    """True balls in, detections out, one report per robot tick."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("ball_detector", **kwargs)
        preset = declare(self, "sensing", "realistic", "Sensing preset the knobs below start "
                         f"from: {' | '.join(PRESETS)}")
        if preset not in PRESETS:
            raise ValueError(f"sensing must be one of {', '.join(PRESETS)}, got {preset!r}")
        self.cfg = declare_config(self, PRESETS[preset], why="read-only: the detector's model, "
                                  "fixed for a run")
        seed = declare(self, "seed", 0, "Seed of the detector's noise, misses and clutter")
        rate = declare(self, "rate_hz", 10.0, "Control rate: latency in ticks is latency * "
                       "rate_hz (rounded)")
        timeout = declare(self, "ball_timeout", 0.25,
                          "Forget a ball whose last balls/odom is older than this [s]")
        self.frame_id = declare(self, "frame_id", "base_link", "Frame of the detections (the "
                                "robot's, at capture time)")
        if rate <= 0:
            raise ValueError(f"rate_hz must be > 0, got {rate}")
        self.sensor = Sensor(1, self.cfg, 1.0 / rate, seed)
        self.balls = BallTracker(timeout)
        self.period_ns = round(1e9 / rate)
        self.stamps: deque[Any] = deque()
        """The odom stamp of every capture still in the sensor's latency pipe, oldest first
        (the pipe is first in, first out: one capture in and at most one out per tick)."""
        self.last_ns: int | None = None
        self.last_msg: PoseArray | None = None
        self.rejected = 0
        self.pub = self.create_publisher(PoseArray, "balls/detections", STATE_QOS)
        self.ball_sub = self.create_subscription(Odometry, "balls/odom", self.on_ball,
                                                 STATE_QOS)
        self.outcome_sub = self.create_subscription(String, "balls/outcome", self.on_outcome,
                                                    EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    def warn_rejected(self, what: str) -> None:
        self.rejected += 1
        self.get_logger().warning(f"{what} rejected ({self.rejected} so far)",
                                  throttle_duration_sec=5.0)

    def on_ball(self, msg: Odometry) -> None:
        if not self.balls.update(msg):
            self.warn_rejected("balls/odom without a name or a finite state")

    def on_outcome(self, msg: String) -> None:
        try:
            self.balls.remove(msg_to_outcome(msg)["ball"])
        except ValueError as exc:
            self.warn_rejected(f"malformed outcome ({exc})")

    def on_odom(self, msg: Odometry) -> None:
        """Capture this tick; publish the report due now."""
        now = stamp_ns(msg)
        if now == self.last_ns and self.last_msg is not None:
            self.pub.publish(self.last_msg)  # the same tick again: the same report
            return
        if not finite_odometry(msg):
            self.warn_rejected("non-finite odom")
            return
        drain(self.ball_sub, self.on_ball)
        drain(self.outcome_sub, self.on_outcome)
        pos, yaw, _ = robot_state(msg)
        bpos, _, alive, _ = self.balls.arrays(now)
        self.stamps.append(msg.header.stamp)
        det = self.sensor.step(control_tick(now, self.period_ns), pos[None], np.array([yaw]),
                               bpos, alive)
        out = PoseArray()
        out.header.frame_id = self.frame_id
        if det is None:
            out.header.stamp = msg.header.stamp  # nothing captured yet: an empty report
        else:
            out.header.stamp = self.stamps.popleft()
            for x, y in det.pos[0, det.mask[0]]:
                p = Pose()
                p.position.x, p.position.y = float(x), float(y)
                p.orientation.w = 1.0
                out.poses.append(p)
        self.last_ns, self.last_msg = now, out
        self.pub.publish(out)


def main(args: list[str] | None = None) -> None:
    """Run the detector alone (`ros2 run dodge_lstm ball_detector`)."""
    run_node(BallDetector, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
