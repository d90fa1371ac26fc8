"""Reading nav_msgs/Odometry-shaped messages into numpy, without importing ROS.

Live rclpy messages and the dataclasses rosbags deserializes from a bag have the same field
names, so one set of readers serves the nodes and bag import alike: `dataset --bag` needs no
rclpy. Frames follow REP 103/105: `odom` is the world frame, `base_link` the robot. Robot
`odom` carries its twist in `child_frame_id` (base_link), as nav_msgs/Odometry specifies; ball
messages carry it in `header.frame_id` (world), as Gazebo's p3d plugin publishes it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

NS_PER_S = 1_000_000_000


def time_to_ns(stamp: Any) -> int:
    """A builtin_interfaces/Time (`sec`, `nanosec`) in nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def stamp_ns(msg: Any) -> int:
    """Header stamp of a stamped message in nanoseconds."""
    return time_to_ns(msg.header.stamp)


def yaw_from_quaternion(q: Any) -> float:
    """Heading (rotation about z) of a quaternion with `x, y, z, w`."""
    return yaw_from_xyzw(q.x, q.y, q.z, q.w)


def yaw_from_xyzw(x: float, y: float, z: float, w: float) -> float:
    """Heading (rotation about z) of the quaternion `(x, y, z, w)`."""
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def robot_state(msg: Any) -> tuple[np.ndarray, float, np.ndarray]:
    """World position, yaw and world velocity of the robot (its twist is in base_link)."""
    p = msg.pose.pose.position
    yaw = yaw_from_quaternion(msg.pose.pose.orientation)
    v = msg.twist.twist.linear
    c, s = math.cos(yaw), math.sin(yaw)
    return (np.array([p.x, p.y]), yaw, np.array([c * v.x - s * v.y, s * v.x + c * v.y]))


def ball_state(msg: Any) -> tuple[np.ndarray, np.ndarray]:
    """World position and world velocity of a ball (its twist is in the world frame)."""
    p = msg.pose.pose.position
    v = msg.twist.twist.linear
    return np.array([p.x, p.y]), np.array([v.x, v.y])


def finite_odometry(msg: Any) -> bool:
    """False if any pose or twist number is NaN/Inf (such messages are rejected and counted)."""
    p, q, v = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist.linear
    w = msg.twist.twist.angular
    vals = (p.x, p.y, p.z, q.x, q.y, q.z, q.w, v.x, v.y, v.z, w.x, w.y, w.z)
    return all(math.isfinite(x) for x in vals)
