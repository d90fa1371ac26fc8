"""Conversions between ROS messages and the core's numpy arrays.

Frames follow REP 103/105: `odom` is the world frame, `base_link` the robot. Robot `odom`
messages carry their twist in `child_frame_id` (base_link), as nav_msgs/Odometry specifies;
ball messages carry it in `header.frame_id` (world), as Gazebo's p3d plugin publishes it.
"""

from __future__ import annotations

import json
import math

import numpy as np
from geometry_msgs.msg import Quaternion
from nav_msgs.msg import Odometry
from std_msgs.msg import Float32MultiArray, MultiArrayDimension, String


def yaw_from_quaternion(q: Quaternion) -> float:
    """Heading (rotation about z) of a quaternion."""
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """A pure rotation about z."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def stamp_ns(msg: Odometry) -> int:
    """Header stamp in nanoseconds."""
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def robot_state(msg: Odometry) -> tuple[np.ndarray, float, np.ndarray]:
    """World position, yaw and world velocity of the robot (twist is in base_link)."""
    p = msg.pose.pose.position
    yaw = yaw_from_quaternion(msg.pose.pose.orientation)
    v = msg.twist.twist.linear
    c, s = math.cos(yaw), math.sin(yaw)
    return (np.array([p.x, p.y]), yaw, np.array([c * v.x - s * v.y, s * v.x + c * v.y]))


def ball_state(msg: Odometry) -> tuple[np.ndarray, np.ndarray]:
    """World position and world velocity of a ball (twist is in the world frame)."""
    p = msg.pose.pose.position
    v = msg.twist.twist.linear
    return np.array([p.x, p.y]), np.array([v.x, v.y])


def finite_odometry(msg: Odometry) -> bool:
    """False if any pose or twist number is NaN/Inf (such messages are rejected and counted)."""
    p, q, v = msg.pose.pose.position, msg.pose.pose.orientation, msg.twist.twist.linear
    w = msg.twist.twist.angular
    vals = (p.x, p.y, p.z, q.x, q.y, q.z, q.w, v.x, v.y, v.z, w.x, w.y, w.z)
    return all(math.isfinite(x) for x in vals)


def window_to_msg(window: np.ndarray) -> Float32MultiArray:
    """A `[timesteps, features]` window as Float32MultiArray with a two-dimensional layout."""
    n, f = window.shape
    msg = Float32MultiArray()
    msg.layout.dim = [
        MultiArrayDimension(label="timesteps", size=n, stride=n * f),
        MultiArrayDimension(label="features", size=f, stride=f),
    ]
    msg.data = window.astype(np.float32).ravel().tolist()
    return msg


def msg_to_window(msg: Float32MultiArray) -> np.ndarray:
    """Inverse of `window_to_msg`; raises ValueError on a malformed layout."""
    dims = msg.layout.dim
    if len(dims) != 2:
        raise ValueError(f"window layout must have 2 dims (timesteps, features), got {len(dims)}")
    n, f = dims[0].size, dims[1].size
    data = np.asarray(msg.data, dtype=np.float32)
    if data.size != n * f or msg.layout.data_offset != 0:
        raise ValueError(f"window data has {data.size} values, layout says {n}x{f}")
    return data.reshape(n, f)


OUTCOMES = ("hit", "passed", "rejected")


def outcome_to_msg(ball: str, outcome: str, threat: bool, t_sec: float) -> String:
    """`balls/outcome` payload: one JSON object per resolved ball (std_msgs/String).

    `outcome` is "hit" or "passed", or "rejected" for a spawn request the simulator refused.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}, got {outcome!r}")
    return String(data=json.dumps({"ball": ball, "outcome": outcome, "threat": bool(threat),
                                   "t": round(t_sec, 3)}))


def msg_to_outcome(msg: String) -> dict:
    """Parse a `balls/outcome` message; raises ValueError if it is not one."""
    try:
        out = json.loads(msg.data)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not an outcome: {msg.data!r}") from exc
    if not isinstance(out, dict) or {"ball", "outcome", "threat"} - out.keys():
        raise ValueError(f"not an outcome: {msg.data!r}")
    return out
