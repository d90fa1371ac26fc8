"""`ball_spawner`: the seed's spawner, topping the world up to `num_balls` live balls.

It keeps `num_balls` slots; an empty slot is refilled after U(0, delay_max) simulated seconds
with a ball drawn by the core `spawning.spawn_balls` (same modes, ranges and defaults as the
arena) relative to the robot pose from `odom`. Requests go out on `balls/spawn` as
nav_msgs/Odometry (`child_frame_id` = new ball name, pose and world-frame twist = where and how
fast the ball starts); `balls/outcome` frees a slot. Time is taken from `odom` stamps, so it
follows sim time at any real-time factor. A Gazebo backend can serve the same topic.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import String

from dodge_lstm.core.config import SpawnConfig
from dodge_lstm.core.odometry import finite_odometry, robot_state, stamp_ns
from dodge_lstm.core.outcomes import ball_name
from dodge_lstm.core.spawning import spawn_balls
from dodge_lstm.ros.messages import msg_to_outcome
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import (
    config_updater,
    declare,
    declare_config,
    destroyed_if_refused,
    live_parameters,
)
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS


class BallSpawner(Node):
    """Keeps `num_balls` balls in the air."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("ball_spawner", **kwargs)
        self.cfg = declare_config(self, SpawnConfig(), read_only=False)
        seed = declare(self, "seed", 0, "Random seed of the spawner", read_only=True)
        # Two streams: refill delays (drawn on outcomes) and balls (drawn on odom) come from
        # different topics in no guaranteed order; separate streams make the balls thrown
        # depend on the seed alone, not on which message arrived first.
        delay_seq, ball_seq = np.random.SeedSequence(seed).spawn(2)
        self.delay_rng = np.random.default_rng(delay_seq)
        self.rng = np.random.default_rng(ball_seq)
        self.slots: list[str | None] = [None] * self.cfg.num_balls
        self.due_ns = (self.delay_rng.uniform(0.0, self.cfg.delay_max, self.cfg.num_balls)
                       * 1e9).astype(np.int64)
        self.start_ns: int | None = None
        self.count = 0
        self.rejected = 0
        """Malformed outcomes and non-finite odometry, logged (throttled) with this count."""
        check, apply = config_updater(lambda: self.cfg, self.set_config)
        live_parameters(self, [f.name for f in fields(SpawnConfig)], check, apply)
        self.pub = self.create_publisher(Odometry, "balls/spawn", EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)

    def set_config(self, cfg: SpawnConfig) -> None:
        """A new spawn configuration (`ros2 param set`): takes effect with the next ball. More
        balls get new slots at once; fewer retire empty slots now, busy ones when they free."""
        self.cfg = cfg
        grow = cfg.num_balls - len(self.slots)
        if grow > 0:
            base = self._now if self.start_ns is not None else 0
            delays = (self.delay_rng.uniform(0.0, cfg.delay_max, grow) * 1e9).astype(np.int64)
            self.slots += [None] * grow
            self.due_ns = np.append(self.due_ns, base + delays)
        while len(self.slots) > cfg.num_balls and None in self.slots:
            k = len(self.slots) - 1 - self.slots[::-1].index(None)
            del self.slots[k]
            self.due_ns = np.delete(self.due_ns, k)

    def on_outcome(self, msg: String) -> None:
        """Free the slot of a resolved ball; its refill waits U(0, delay_max)."""
        try:
            out = msg_to_outcome(msg)
            name, t_ns = out["ball"], round(float(out["t"]) * 1e9)
        except (ValueError, KeyError, TypeError) as exc:
            self.rejected += 1
            self.get_logger().warning(f"malformed outcome rejected: {exc} "
                                      f"({self.rejected} rejected so far)",
                                      throttle_duration_sec=5.0)
            return
        if name in self.slots and self.start_ns is not None:
            k = self.slots.index(name)
            if len(self.slots) > self.cfg.num_balls:  # num_balls was lowered: retire the slot
                del self.slots[k]
                self.due_ns = np.delete(self.due_ns, k)
                return
            self.slots[k] = None
            # From the outcome's own time, not the last odom seen: the same refill whether the
            # outcome arrives before or after the next tick's odom.
            self.due_ns[k] = t_ns + int(self.delay_rng.uniform(0.0, self.cfg.delay_max) * 1e9)

    def on_odom(self, msg: Odometry) -> None:
        """Each robot state is a tick: spawn whatever is due."""
        if not finite_odometry(msg):
            self.rejected += 1
            self.get_logger().warning(f"non-finite odom rejected ({self.rejected} rejected so far)",
                                      throttle_duration_sec=5.0)
            return
        self._now = stamp_ns(msg)
        if self.start_ns is None:
            self.start_ns = self._now
            self.due_ns += self._now
        due = [k for k, name in enumerate(self.slots)
               if name is None and self.due_ns[k] <= self._now]
        if not due:
            return
        pos, yaw, _ = robot_state(msg)
        n = len(due)
        bpos, bvel = spawn_balls(self.rng, np.tile(pos, (n, 1)), np.full(n, yaw), self.cfg)
        for k, p, v in zip(due, bpos, bvel):
            name = ball_name(self.count)
            self.count += 1
            self.slots[k] = name
            req = Odometry()
            req.header.stamp = msg.header.stamp
            req.header.frame_id = msg.header.frame_id
            req.child_frame_id = name
            req.pose.pose.position.x, req.pose.pose.position.y = float(p[0]), float(p[1])
            req.pose.pose.orientation.w = 1.0
            req.twist.twist.linear.x, req.twist.twist.linear.y = float(v[0]), float(v[1])
            self.pub.publish(req)


def main(args: list[str] | None = None) -> None:
    """Run the spawner alone (`ros2 run dodge_lstm ball_spawner`)."""
    run_node(BallSpawner, SingleThreadedExecutor, args)


if __name__ == "__main__":
    main()
