"""A recorded graph replayed in the order the nodes saw it: the one reader behind bag import and
bag rendering.

State messages are replayed in header-stamp order (outcomes, then balls, then the robot at equal
stamps), since separate topics reach a recorder in no guaranteed order. `cmd_vel` has no header
(plain Twist) or a stamp that says when it was sent, not which tick it answers, so a row's
command is the latest `cmd_vel` *received* at or before its `odom` was received: the command in
force (docs/DESIGN.md). That needs receive times on one monotonic clock: our recorder's default
and `ros2 bag record`'s without `--use-sim-time`. Both `geometry_msgs/Twist` and
`geometry_msgs/TwistStamped` commands are read.

Labels may come from another command topic (`command_topic`, e.g. a shadow expert's
`expert/cmd_vel`). A TwistStamped shadow stamps each answer with the header stamp of the `odom` it
answers, so its labels pair with rows exactly by stamp (`commands_answering`); the driver's own
`cmd_vel` and plain Twist topics keep the receive-time rule.
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

OUTCOME, BALL, ROBOT, DETECTIONS = 0, 1, 2, 3
"""Event kinds, in their replay order at equal stamps."""

TOPICS = ("odom", "balls/odom", "balls/outcome", "cmd_vel", "balls/detections")

DRIVER_COMMANDS = "cmd_vel"
"""The driver's command topic: what the simulator executed."""

STAMPED_COMMAND = "geometry_msgs/msg/TwistStamped"


def qualified(namespace: str, name: str) -> str:
    """Fully qualified name, as bags store them: `robot1` and `/robot1/` both give `/robot1/x`;
    an absolute `name` stays as it is."""
    if name.startswith("/"):
        return name
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
    """The Odometry or PoseArray message, or the decoded outcome dict."""
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
    cmd_stamp_ns: np.ndarray | None = None
    """Header stamps of the commands (in `cmd_recv_ns` order) when they pair with rows by
    stamp: TwistStamped on a topic other than the driver's `cmd_vel` (the policy stamps its
    `cmd_vel` with its clock, not with the tick it answers). Else None: by receive time."""
    cmd_messages: int = 0
    """Messages read on the command topic, usable or not."""

    def commands_in_force(self, recv_ns: np.ndarray) -> np.ndarray:
        """The latest command received at or before each receive time (0 before the first)."""
        idx = np.searchsorted(self.cmd_recv_ns, np.asarray(recv_ns, dtype=np.int64),
                              side="right") - 1
        if not self.cmd_values.size:
            return np.zeros(idx.shape, dtype=np.float32)
        return np.where(idx >= 0, self.cmd_values[np.maximum(idx, 0)], 0.0).astype(np.float32)

    def commands_answering(self, row_stamps_ns: np.ndarray) -> tuple[np.ndarray, int]:
        """Row t's command is the one stamped with row t-1's odom stamp (row 0: 0), so a late
        label cannot shift; a row whose previous row got no answer keeps the previous row's
        command. Returns the commands and how many rows had no answer."""
        if self.cmd_stamp_ns is None:
            raise ValueError(f"{self.topics['cmd_vel']} does not pair by stamp: use "
                             f"commands_in_force (receive time)")
        # Later messages win on a repeated stamp, like the receive-time rule.
        answer = dict(zip(self.cmd_stamp_ns.tolist(), self.cmd_values.tolist(), strict=True))
        stamps = np.asarray(row_stamps_ns, dtype=np.int64).tolist()
        out = np.zeros(len(stamps), dtype=np.float32)
        missing = 0
        for t in range(1, len(stamps)):
            value = answer.get(stamps[t - 1])
            if value is None:
                missing += 1
                out[t] = out[t - 1]
            else:
                out[t] = value
        return out, missing


def replay_bag(path: Path | str, namespace: str = "",
               command_topic: str = DRIVER_COMMANDS) -> BagReplay:
    """Read the graph's topics from a bag, commands from `command_topic` (relative to
    `namespace`; default the driver's `cmd_vel`); raises ValueError if it has no robot
    odometry."""
    topics = {k: qualified(namespace, k) for k in TOPICS}
    driver = topics["cmd_vel"]
    topics["cmd_vel"] = qualified(namespace, command_topic)  # the role: labels
    events: list[Event] = []
    cmd_recv: list[int] = []
    cmd_vals: list[float] = []
    cmd_stamps: list[int] = []
    cmd_types: set[str] = set()
    cmd_count = rejected = 0
    for seq, (topic, msgtype, recv_ns, msg) in enumerate(
            read_messages(path, topics=topics.values())):
        if topic == topics["cmd_vel"]:
            cmd_types.add(msgtype)
            cmd_count += 1
            value = command_value(msg)
            if math.isfinite(value):
                cmd_recv.append(recv_ns)
                cmd_vals.append(value)
                if msgtype == STAMPED_COMMAND:
                    cmd_stamps.append(stamp_ns(msg))
            else:
                rejected += 1
        elif topic == topics["balls/outcome"]:
            try:
                out = decode_outcome(msg.data)
                events.append(Event(round(float(out["t"]) * 1e9), OUTCOME, seq, out, recv_ns))
            except (ValueError, KeyError, TypeError):
                rejected += 1
        else:
            kind = {topics["balls/odom"]: BALL, topics["balls/detections"]: DETECTIONS}.get(
                topic, ROBOT)
            events.append(Event(stamp_ns(msg), kind, seq, msg, recv_ns))
    if not any(e.kind == ROBOT for e in events):
        raise ValueError(f"bag {path} has no messages on {topics['odom']}; was the simulator "
                         f"recorded (topics {sorted(topics.values())})?")
    events.sort(key=lambda e: (e.stamp_ns, e.kind, e.seq))
    order = np.argsort(np.asarray(cmd_recv, dtype=np.int64), kind="stable")
    by_stamp = cmd_types == {STAMPED_COMMAND} and topics["cmd_vel"] != driver
    stamps = np.asarray(cmd_stamps, dtype=np.int64)[order] if by_stamp else None
    return BagReplay(path=Path(path), topics=topics, events=events,
                     cmd_recv_ns=np.asarray(cmd_recv, dtype=np.int64)[order],
                     cmd_values=np.asarray(cmd_vals, dtype=np.float32)[order],
                     rejected=rejected, cmd_stamp_ns=stamps, cmd_messages=cmd_count)
