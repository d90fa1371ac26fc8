"""Stamp, child frame and finiteness of a serialized `nav_msgs/Odometry`, without deserializing it.

Turning an Odometry into Python objects costs ~60 µs (two covariance arrays, eleven nested
messages), and a lockstep graph sends several per tick to subscribers that mostly need only
when, which ball, and whether it is usable: the markers node (which draws far fewer frames than
the simulator ticks) and the bringup's observer. They subscribe `raw=True`, peek here, and
deserialize whole messages only where their content is used.

Layout (OMG CDR, what rmw hands out for ROS 2 messages): a 4-byte encapsulation header (0x0001
little endian, 0x0000 big endian), then `std_msgs/Header`: `int32 sec`, `uint32 nanosec`,
`string frame_id` (uint32 length counting the NUL, then the bytes); then, aligned to 4,
`string child_frame_id`; then, aligned to 8, nothing but float64 (pose, covariance, twist,
covariance). Alignment counts from the end of the encapsulation header. Anything else (another
encapsulation, cut-short bytes) gives None: the caller then deserializes as usual.
"""

from __future__ import annotations

import math
import struct
from typing import NamedTuple

from dodge_lstm.core.odometry import yaw_from_xyzw

ENCAPSULATION = {b"\x00\x01": "<", b"\x00\x00": ">"}
PAYLOAD = 4
ODOMETRY_FLOATS = 7 + 36 + 6 + 36
"""float64 fields after the frame ids: pose, its covariance, twist, its covariance."""


class OdometryPeek(NamedTuple):
    stamp_ns: int
    child_frame_id: str
    finite: bool
    """Every float64 of the message (pose, twist, covariances) is finite (False may also
    mean: too large to be sure)."""
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    """The pose in the plane (yaw from the orientation quaternion)."""


def _align(at: int, to: int) -> int:
    return PAYLOAD + (at - PAYLOAD + to - 1) // to * to


def peek_odometry(data: bytes) -> OdometryPeek | None:
    """What a serialized Odometry holds, or None if the bytes are not a plain-CDR Odometry."""
    order = ENCAPSULATION.get(bytes(data[:2]))
    if order is None:
        return None
    try:
        sec, nanosec, frame_len = struct.unpack_from(order + "iII", data, PAYLOAD)
        at = _align(PAYLOAD + 12 + frame_len, 4)
        (child_len,) = struct.unpack_from(order + "I", data, at)
        end = at + 4 + child_len
        if child_len == 0 or end > len(data):
            return None
        child = bytes(data[at + 4 : end - 1]).decode("utf-8")
        floats = struct.unpack_from(f"{order}{ODOMETRY_FLOATS}d", data, _align(end, 8))
    except (struct.error, UnicodeDecodeError):
        return None
    # A NaN or an infinity anywhere makes the sum one; so can an overflow of finite values,
    # which only sends a good message down the slow path (deserialized and checked there).
    return OdometryPeek(sec * 1_000_000_000 + nanosec, child, math.isfinite(sum(floats)),
                        floats[0], floats[1], yaw_from_xyzw(*floats[3:7]))
