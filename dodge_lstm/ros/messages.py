"""Building and checking the ROS messages the nodes publish (rclpy message classes).

Reading odometry into numpy is ROS-free and lives in `core.odometry`; the outcome format lives
in `core.outcomes`. This module only adds what needs the message classes themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from geometry_msgs.msg import Quaternion, Twist, TwistStamped
from std_msgs.msg import Float32MultiArray, MultiArrayDimension, String

from dodge_lstm.core.features import WindowSpec
from dodge_lstm.core.outcomes import decode_outcome, encode_outcome


def quaternion_from_yaw(yaw: float) -> Quaternion:
    """A pure rotation about z."""
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


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


def spec_to_msg(spec: WindowSpec) -> String:
    """A `dodge/window_spec` message (std_msgs/String holding `WindowSpec` JSON)."""
    return String(data=spec.to_json())


def msg_to_spec(msg: Any) -> WindowSpec:
    """Parse a `dodge/window_spec` message; raises ValueError if malformed."""
    return WindowSpec.from_json(msg.data)


def outcome_to_msg(ball: str, outcome: str, threat: bool, t_sec: float) -> String:
    """A `balls/outcome` message (std_msgs/String holding `core.outcomes` JSON)."""
    return String(data=encode_outcome(ball, outcome, threat, t_sec))


def msg_to_outcome(msg: Any) -> dict[str, Any]:
    """Parse a `balls/outcome` message (live or from a bag); raises ValueError if malformed."""
    return decode_outcome(msg.data)


def command_type(stamped: bool) -> type:
    """`cmd_vel`'s message type: TwistStamped (nav2's default since Kilted) or plain Twist."""
    return TwistStamped if stamped else Twist


def command_msg(linear_x: float, stamped: bool, stamp: Any = None,
                frame_id: str = "base_link") -> Twist | TwistStamped:
    """A command with only `linear.x` set (the seed's 1-D action), stamped if asked."""
    if not stamped:
        msg = Twist()
        msg.linear.x = float(linear_x)
        return msg
    out = TwistStamped()
    if stamp is not None:
        out.header.stamp = stamp
    out.header.frame_id = frame_id
    out.twist.linear.x = float(linear_x)
    return out


def command_linear_x(msg: Twist | TwistStamped) -> float:
    """`linear.x` of either command type."""
    return float(msg.twist.linear.x if isinstance(msg, TwistStamped) else msg.linear.x)


def command_angular_z(msg: Twist | TwistStamped) -> float:
    """`angular.z` of either command type."""
    return float(msg.twist.angular.z if isinstance(msg, TwistStamped) else msg.angular.z)
