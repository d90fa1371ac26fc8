"""The `markers` topic of a bag as a viewer shows it at one moment, as plain data.

`dodge_markers` publishes `visualization_msgs/MarkerArray`s; what rviz or Foxglove shows at a
time is not one message but the result of every message before it. `MarkerTimeline` applies
them the way rviz2's marker display does (its `MarkerCommon`), in the order received and, within
an array, in array order:

- ADD (= MODIFY, both 0 in ROS 2) puts the marker under its `(ns, id)`, replacing whatever was
  there (a new type included);
- DELETE removes `(ns, id)` (nothing there: nothing happens);
- DELETEALL with an empty `ns` clears everything; with a `ns`, that namespace only (what rviz2
  does since it keeps a namespace index; older viewers cleared all);
- a marker whose `lifetime` is not zero is gone once `lifetime` has passed since it was
  *received*: shown while `now < received + lifetime`, gone from `received + lifetime` on;
  a zero lifetime is forever;
- a marker with a non-finite pose, scale, colour or point is ignored whatever its action (rviz
  refuses it before looking at the action), as is an unknown action; both are counted.

The lifetime clock is the bag's receive time, not the header stamp, for three reasons. rviz2
does the same (`expiration = clock.now() + lifetime` when the marker arrives, not the stamp). The
time asked for (`markers_at(..., seconds)`) is a bag time, counted from the bag's first message,
and receive times are on that clock; header stamps are simulation time, which runs at
`--real-time-factor` (or as fast as the graph can go with `--lockstep`) against the recorder's
wall clock, so `stamp + lifetime` cannot be compared with a bag time. And a publisher may stamp
nothing at all (stamp 0), for which stamp-relative lifetimes would have expired in 1970.

Poses are read in the marker's own `header.frame_id` without any TF (`dodge_markers` draws
everything in the fixed frame `odom`); `frame_id` is kept on each marker for the caller to check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from dodge_lstm.bags.bag_replay import qualified
from dodge_lstm.bags.rosbag_io import bag_summary, read_messages
from dodge_lstm.core import marker_scene
from dodge_lstm.core.odometry import NS_PER_S, time_to_ns, yaw_from_quaternion

__all__ = ["MARKER", "MARKER_ARRAY", "TYPE_NAMES", "MarkerSnapshot", "MarkerTimeline",
           "SceneMarker", "markers_at"]

MARKER_ARRAY = "visualization_msgs/msg/MarkerArray"
MARKER = "visualization_msgs/msg/Marker"

# visualization_msgs/Marker type constants; the four `dodge_markers` uses are the names of
# `core.marker_scene`, so a scene read from a bag compares with what the node meant to draw.
TYPE_NAMES: dict[int, str] = {
    0: marker_scene.ARROW, 1: "CUBE", 2: marker_scene.SPHERE, 3: marker_scene.CYLINDER,
    4: "LINE_STRIP", 5: "LINE_LIST", 6: "CUBE_LIST", 7: "SPHERE_LIST", 8: "POINTS",
    9: marker_scene.TEXT, 10: "MESH_RESOURCE", 11: "TRIANGLE_LIST", 12: "ARROW_STRIP",
}
ADD, MODIFY, DELETE, DELETEALL = 0, 0, 2, 3
"""Marker actions (ADD and MODIFY are the same value in ROS 2; 1 was MODIFY in ROS 1)."""


@dataclass(frozen=True)
class SceneMarker:
    """One marker on screen, in its own frame (`frame_id`); lengths in metres."""

    ns: str
    id: int
    type: str
    """The Marker type constant's name: `CYLINDER`, `SPHERE`, `ARROW`, `TEXT_VIEW_FACING`, ..."""
    pose: tuple[float, float, float]
    """`(x, y, yaw)`: position and heading (rotation about z) of the marker."""
    z: float
    scale: tuple[float, float, float]
    color: tuple[float, float, float, float]
    """RGBA, each in [0, 1]."""
    text: str = ""
    points: tuple[tuple[float, float, float], ...] = ()
    """In the marker's frame, i.e. before its pose is applied (as rviz draws them)."""
    frame_id: str = ""
    stamp_ns: int = 0
    """Header stamp (simulation time for `dodge_markers`)."""
    received_ns: int = 0
    """Bag receive time of the array that added it."""
    expires_ns: int | None = None
    """Bag time from which it is gone (`received_ns + lifetime`); None: a zero lifetime."""

    @property
    def key(self) -> tuple[str, int]:
        """The marker's identity, `(ns, id)`."""
        return self.ns, self.id

    def shown_at(self, now_ns: int) -> bool:
        """Whether its lifetime still holds at bag time `now_ns`."""
        return self.expires_ns is None or now_ns < self.expires_ns


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _valid(m: Any) -> bool:
    """rviz's `validateFloats`: pose, scale, colour and points all finite."""
    p, q, s, c = m.pose.position, m.pose.orientation, m.scale, m.color
    return (_finite(p.x, p.y, p.z, q.x, q.y, q.z, q.w, s.x, s.y, s.z, c.r, c.g, c.b, c.a)
            and all(_finite(pt.x, pt.y, pt.z) for pt in m.points))


@dataclass
class MarkerTimeline:
    """Markers applied in receive order, as a viewer applies them; `scene(now)` is the screen."""

    live: dict[tuple[str, int], SceneMarker] = field(default_factory=dict)
    """What was added and neither deleted nor replaced (expired ones are dropped lazily)."""
    applied: int = 0
    """Markers applied (of every action)."""
    rejected: int = 0
    """Markers ignored: non-finite values or an unknown action."""

    def apply(self, markers: Iterable[Any], received_ns: int) -> None:
        """Apply the markers of one array (or a single Marker in a list), received at
        `received_ns` on the bag clock."""
        self._drop_expired(received_ns)
        for m in markers:
            if not _valid(m):
                self.rejected += 1
                continue
            action = int(m.action)
            if action == ADD:
                self._add(m, received_ns)
            elif action == DELETE:
                self.live.pop((m.ns, int(m.id)), None)
            elif action == DELETEALL:
                if m.ns:
                    self.live = {k: v for k, v in self.live.items() if k[0] != m.ns}
                else:
                    self.live.clear()
            else:
                self.rejected += 1
                continue
            self.applied += 1

    def scene(self, now_ns: int) -> list[SceneMarker]:
        """The markers shown at bag time `now_ns` (after everything applied so far), sorted by
        `(ns, id)`."""
        return sorted((m for m in self.live.values() if m.shown_at(now_ns)), key=lambda m: m.key)

    def _add(self, m: Any, received_ns: int) -> None:
        p, s, c = m.pose.position, m.scale, m.color
        lifetime = time_to_ns(m.lifetime)
        marker = SceneMarker(
            ns=str(m.ns), id=int(m.id), type=TYPE_NAMES.get(int(m.type), f"TYPE_{int(m.type)}"),
            pose=(float(p.x), float(p.y), yaw_from_quaternion(m.pose.orientation)),
            z=float(p.z), scale=(float(s.x), float(s.y), float(s.z)),
            color=(float(c.r), float(c.g), float(c.b), float(c.a)), text=str(m.text),
            points=tuple((float(pt.x), float(pt.y), float(pt.z)) for pt in m.points),
            frame_id=str(m.header.frame_id), stamp_ns=time_to_ns(m.header.stamp),
            received_ns=received_ns,
            expires_ns=received_ns + lifetime if lifetime > 0 else None)
        self.live[marker.key] = marker

    def _drop_expired(self, now_ns: int) -> None:
        """Forget markers gone by `now_ns` (keeps a long bag with lost DELETEs bounded)."""
        gone = [k for k, m in self.live.items() if not m.shown_at(now_ns)]
        for k in gone:
            del self.live[k]


@dataclass
class MarkerSnapshot:
    """The markers of a bag's marker topic shown at one bag time."""

    path: Path
    topic: str
    time_s: float
    """Seconds after the bag's first message (any topic)."""
    markers: list[SceneMarker]
    arrays: int
    """Marker messages read up to that time."""
    rejected: int
    """Markers ignored up to then (non-finite values, unknown actions)."""

    @property
    def stamp_s(self) -> float | None:
        """Header stamp of the newest marker shown [s] (simulation time), if any."""
        if not self.markers:
            return None
        return max(m.stamp_ns for m in self.markers) / NS_PER_S


def markers_at(path: Path | str, seconds: float, namespace: str = "") -> MarkerSnapshot:
    """What a viewer of the bag's `markers` topic shows `seconds` after the bag's first message.

    Messages received at exactly that time count. Raises ValueError for a bag without messages
    on the markers topic (or with another type on it), or a time past the bag's last message.
    """
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"the time must be a finite number of seconds >= 0, got {seconds}")
    topic = qualified(namespace, "markers")
    # Every topic, so that time 0 is the bag's first message whatever its topic. Reading starts
    # before the summary because it names what is wrong with a bag it cannot read.
    messages = read_messages(path)
    try:
        first = next(messages, None)
        summary = bag_summary(path)
        msgtype, count = summary.get(topic, ("", 0))
        if first is None or not count:
            raise ValueError(
                f"bag {path} has no messages on {topic} (its topics: "
                f"{', '.join(sorted(summary)) or 'none'}); record the graph with the markers "
                f"topic (the recorder's default) or give the --namespace it ran in")
        if msgtype not in (MARKER_ARRAY, MARKER):
            raise ValueError(f"bag {path}: {topic} holds {msgtype}, not {MARKER_ARRAY}")
        timeline = MarkerTimeline()
        start_ns = last_ns = first.timestamp_ns
        at_ns = start_ns + round(seconds * NS_PER_S)
        arrays = 0
        for name, _type, recv_ns, msg in chain([first], messages):
            if recv_ns > at_ns:
                break
            last_ns = recv_ns
            if name == topic:
                arrays += 1
                timeline.apply(msg.markers if msgtype == MARKER_ARRAY else [msg], recv_ns)
        else:
            if at_ns > last_ns:
                raise ValueError(f"bag {path} ends {(last_ns - start_ns) / NS_PER_S:.2f} s "
                                 f"after its first message: {seconds:g} s is past its end")
    finally:
        messages.close()
    return MarkerSnapshot(Path(path), topic, seconds, timeline.scene(at_ns), arrays,
                          timeline.rejected)
