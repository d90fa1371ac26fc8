"""A recorded graph replayed in the order the nodes saw it: the one reader behind bag import and
bag rendering.

State messages are replayed in header-stamp order (outcomes, then balls, then the robot at equal
stamps), since separate topics reach a recorder in no guaranteed order. `cmd_vel` has no header
(plain Twist) or a stamp that says when it was sent, not which tick it answers, so a row's
command is the latest `cmd_vel` *received* at or before its `odom` was received: the command in
force (docs/DESIGN.md). That needs receive times on one monotonic clock: our recorder's default
and `ros2 bag record`'s without `--use-sim-time`. Both `geometry_msgs/Twist` and
`geometry_msgs/TwistStamped` commands are read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.bags.rosbag_io import read_messages
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.core.outcomes import decode_outcome

OUTCOME, BALL, ROBOT = 0, 1, 2
"""Event kinds, in their replay order at equal stamps."""

TOPICS = ("odom", "balls/odom", "balls/outcome", "cmd_vel")


def qualified(namespace: str, name: str) -> str:
    """Fully qualified name, as bags store them: `robot1` and `/robot1/` both give `/robot1/x`."""
    ns = namespace.strip("/")
    return f"/{ns}/{name}" if ns else f"/{name}"


def command_value(msg: Any) -> float:
    """`linear.x` of a Twist or a TwistStamped."""
    twist = msg.twist if hasattr(msg, "twist") else msg
    return float(twist.linear.x)


@dataclass
class Event:
    """One replayed state message or outcome."""

    stamp_ns: int
    kind: int
    seq: int
    payload: Any
    """The Odometry message, or the decoded outcome dict."""
    recv_ns: int


@dataclass
class BagReplay:
    """A bag's events in replay order, and its commands by receive time."""

    path: Path
    topics: dict[str, str]
    events: list[Event]
    cmd_recv_ns: np.ndarray
    cmd_values: np.ndarray
    rejected: int
    """Messages that could not be used (non-finite commands, malformed outcomes)."""

    def commands_in_force(self, recv_ns: np.ndarray) -> np.ndarray:
        """The latest command received at or before each receive time (0 before the first)."""
        idx = np.searchsorted(self.cmd_recv_ns, np.asarray(recv_ns, dtype=np.int64),
                              side="right") - 1
        if not self.cmd_values.size:
            return np.zeros(idx.shape, dtype=np.float32)
        return np.where(idx >= 0, self.cmd_values[np.maximum(idx, 0)], 0.0).astype(np.float32)


def replay_bag(path: Path | str, namespace: str = "") -> BagReplay:
    """Read the graph's topics from a bag; raises ValueError if it has no robot odometry."""
    topics = {k: qualified(namespace, k) for k in TOPICS}
    events: list[Event] = []
    cmd_recv: list[int] = []
    cmd_vals: list[float] = []
    rejected = 0
    for seq, (topic, _type, recv_ns, msg) in enumerate(
            read_messages(path, topics=topics.values())):
        if topic == topics["cmd_vel"]:
            value = command_value(msg)
            if math.isfinite(value):
                cmd_recv.append(recv_ns)
                cmd_vals.append(value)
            else:
                rejected += 1
        elif topic == topics["balls/outcome"]:
            try:
                out = decode_outcome(msg.data)
                events.append(Event(round(float(out["t"]) * 1e9), OUTCOME, seq, out, recv_ns))
            except (ValueError, KeyError, TypeError):
                rejected += 1
        else:
            kind = BALL if topic == topics["balls/odom"] else ROBOT
            events.append(Event(stamp_ns(msg), kind, seq, msg, recv_ns))
    if not any(e.kind == ROBOT for e in events):
        raise ValueError(f"bag {path} has no messages on {topics['odom']}; was the simulator "
                         f"recorded (topics {sorted(topics.values())})?")
    events.sort(key=lambda e: (e.stamp_ns, e.kind, e.seq))
    order = np.argsort(np.asarray(cmd_recv, dtype=np.int64), kind="stable")
    return BagReplay(path=Path(path), topics=topics, events=events,
                     cmd_recv_ns=np.asarray(cmd_recv, dtype=np.int64)[order],
                     cmd_values=np.asarray(cmd_vals, dtype=np.float32)[order],
                     rejected=rejected)
