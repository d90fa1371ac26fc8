"""`dodge_markers`: the game as rviz and Foxglove draw it (`visualization_msgs/MarkerArray`).

On every robot `odom` (one per simulator tick: the control rate) it publishes one MarkerArray on
`markers` (at most `max_rate_hz` per wall-clock second: a run faster than real time skips
frames, never a DELETE), in the odom message's frame (`odom`): the robot as a cylinder of
`robot_radius` with a heading arrow, each live ball as a sphere of `ball_radius` (orange if it
would hit the robot standing still, grey if not) with its velocity arrow, a red/green flash
where a ball was just hit/passed, and the running score as text. What to draw is decided by
the ROS-free `core.marker_scene.MarkerScene`; this node only converts it to messages. Removed
balls get DELETE actions; every marker also carries a `lifetime`, so a viewer clears them by
itself if this node dies.

TF where it exists: if `tf2_msgs` is importable, the node also broadcasts `odom -> base_link`
from each robot `odom` on `/tf` (so rviz can show the robot frame and follow it). The pip wheels
have no `tf2_msgs`; then it says so once at start-up and everything stays in the fixed frame
`odom`, which rviz and Foxglove can display without any transform.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import numpy as np
from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point, PoseArray, TransformStamped
from nav_msgs.msg import Odometry
from rclpy.duration import Duration as RosDuration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.serialization import deserialize_message
from std_msgs.msg import ColorRGBA, Header, String
from visualization_msgs.msg import Marker, MarkerArray

from dodge_lstm.core import marker_scene as scene
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.detection_rows import detection_positions
from dodge_lstm.core.features import to_world_frame
from dodge_lstm.core.odometry import robot_state, stamp_ns
from dodge_lstm.ros.cdr_peek import peek_odometry
from dodge_lstm.ros.messages import msg_to_outcome, quaternion_from_yaw
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, declare_config, destroyed_if_refused
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS

# The physics parameters the drawing needs, declared from the dataclass (shared `/**` section).
ARENA_FIELDS = ("robot_radius", "ball_radius")

MARKER_QOS = STATE_QOS
"""`markers`: reliable depth 10, like the state streams it is drawn from. Reliable because
rviz's MarkerArray display subscribes reliable by default (a best-effort publisher would not
match it) and because a lost array can hold a DELETE; volatile because every tick redraws the
whole scene, so a viewer that joins late is complete one tick later; shallow because a late
frame is worth less than the next one, and a DELETE lost to a full queue is still covered by the
markers' `lifetime`."""

TF_QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
"""`/tf`: what tf2_ros' TransformBroadcaster uses (reliable, volatile, depth 100)."""

KINDS = {scene.CYLINDER: Marker.CYLINDER, scene.SPHERE: Marker.SPHERE, scene.ARROW: Marker.ARROW,
         scene.TEXT: Marker.TEXT_VIEW_FACING, scene.POINTS: Marker.POINTS}
POSE_HISTORY = 100
"""Robot poses kept by stamp, to place detector reports captured up to 10 s ago."""
ACTIONS = {scene.ADD: Marker.ADD, scene.DELETE: Marker.DELETE}


def tf_message_type() -> type | None:
    """`tf2_msgs/msg/TFMessage` if installed (a ROS distro), else None (the pip wheels)."""
    try:
        from tf2_msgs.msg import TFMessage
    except ImportError:
        return None
    return TFMessage


def to_marker(spec: scene.MarkerSpec, header: Header, lifetime: Duration) -> Marker:
    """One `MarkerSpec` as a Marker (DELETEs carry only header, ns and id)."""
    m = Marker(header=header, ns=spec.ns, id=spec.id, type=KINDS[spec.kind],
               action=ACTIONS[spec.action])
    if spec.action == scene.DELETE:
        return m
    m.pose.position.x, m.pose.position.y, m.pose.position.z = spec.position
    m.pose.orientation = quaternion_from_yaw(spec.yaw)
    m.scale.x, m.scale.y, m.scale.z = spec.scale
    m.color = ColorRGBA(r=spec.color[0], g=spec.color[1], b=spec.color[2], a=spec.color[3])
    m.points = [Point(x=x, y=y, z=z) for x, y, z in spec.points]
    m.text = spec.text
    m.lifetime = lifetime
    return m


def delete_all(header: Header) -> MarkerArray:
    """One DELETEALL: clears everything this node drew (sent when it stops)."""
    return MarkerArray(markers=[Marker(header=header, action=Marker.DELETEALL)])


def transform_from_odometry(msg: Odometry) -> TransformStamped:
    """`header.frame_id -> child_frame_id` (odom -> base_link) at the message's stamp."""
    t = TransformStamped(header=msg.header, child_frame_id=msg.child_frame_id)
    p = msg.pose.pose.position
    t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = p.x, p.y, p.z
    t.transform.rotation = msg.pose.pose.orientation
    return t


class DodgeMarkers(Node):
    """Publishes the scene on `markers` for every robot state (and `/tf` where it exists)."""

    @destroyed_if_refused
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("dodge_markers", **kwargs)
        cfg = declare_config(self, ArenaConfig(), names=ARENA_FIELDS)
        timeout = declare(self, "ball_timeout", 0.25, "Forget a ball whose last balls/odom is "
                          "older than this [s] (its markers are deleted)")
        flash = declare(self, "flash_duration", 0.5, "How long a hit (red) or passed (green) "
                        "ball keeps flashing after its outcome [s of message time]")
        arrow = declare(self, "arrow_time", 0.3, "Velocity arrows show where a ball will be "
                        "this much later [s]")
        lifetime = declare(self, "lifetime", 1.0, "Marker lifetime in the viewer [s]: a safety "
                           "net that clears the scene if this node stops publishing")
        self.frame_id = declare(self, "frame_id", "odom", "Frame of the markers when a robot "
                                "odom has an empty header.frame_id")
        broadcast_tf = declare(self, "broadcast_tf", True, "Broadcast odom -> base_link on /tf "
                               "from each robot odom (only where tf2_msgs is installed)")
        max_rate = declare(self, "max_rate_hz", 30.0, "Publish at most this many MarkerArrays "
                           "per wall-clock second (a viewer draws no more; lockstep runs tick "
                           "hundreds of times a second); skipped frames pass their DELETEs on. "
                           "0: one per robot odom")
        draw_detections = declare(self, "draw_detections", True, "Draw balls/detections (a "
                                  "graph that senses) as black points where the robot was at "
                                  "capture")
        if lifetime <= 0:
            raise ValueError("lifetime must be > 0")
        if max_rate < 0:
            raise ValueError("max_rate_hz must be >= 0")
        self.min_gap_ns = round(1e9 / max_rate) if max_rate > 0 else 0
        self.last_publish_ns: int | None = None
        self.pending_deletes: list[scene.MarkerSpec] = []
        """DELETEs due in skipped frames, sent first in the next array."""
        self.scene = scene.MarkerScene(cfg.robot_radius, cfg.ball_radius, timeout, flash, arrow)
        self.lifetime: Duration = RosDuration(seconds=lifetime).to_msg()
        self.rejected_outcomes = 0
        self.last_header: Header | None = None
        self.pub = self.create_publisher(MarkerArray, "markers", MARKER_QOS)
        self.tf_pub = None
        tf_type = tf_message_type() if broadcast_tf else None
        if tf_type is not None:
            self.tf_type = tf_type
            self.tf_pub = self.create_publisher(tf_type, "/tf", TF_QOS)
            self.get_logger().info("broadcasting odom -> base_link on /tf")
        elif broadcast_tf:
            self.get_logger().info("TF unavailable (tf2_msgs is not installed): no /tf; markers "
                                   "are in the fixed frame odom")
        # Serialized: most robot states are not drawn and most ball states are replaced by the
        # next before a frame is drawn; only what is drawn is deserialized (ros.cdr_peek).
        self.ball_bytes: dict[str, bytes] = {}
        """Newest serialized state per ball since the last drawn frame (first-seen order)."""
        self.create_subscription(Odometry, "balls/odom", self.on_ball_bytes, STATE_QOS, raw=True)
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Odometry, "odom", self.on_odom_bytes, STATE_QOS, raw=True)
        self.poses: OrderedDict[int, tuple[float, float, float]] = OrderedDict()
        """Robot (x, y, yaw) by odom stamp, for placing detector reports."""
        self.report: scene.MarkerSpec | None = None
        """The newest detector report, drawn with the next frame."""
        self.unplaced_reports = 0
        """Reports captured at a stamp with no known robot pose (not drawn)."""
        if draw_detections:
            self.create_subscription(PoseArray, "balls/detections", self.on_detections,
                                     STATE_QOS)

    @property
    def rejected(self) -> int:
        """Messages rejected so far (non-finite odometry, malformed outcomes)."""
        return self.scene.rejected + self.scene.tracker.rejected + self.rejected_outcomes

    def warn_rejected(self, what: str) -> None:
        """Say that a message was rejected (counted by the caller), at most every 5 s."""
        self.get_logger().warning(f"{what} rejected ({self.rejected} rejected so far)",
                                  throttle_duration_sec=5.0)

    def on_ball(self, msg: Odometry) -> None:
        """Track one ball."""
        if not self.scene.on_ball(msg):
            self.warn_rejected("balls/odom without a name or a finite state")

    def on_ball_bytes(self, data: bytes) -> None:
        """Keep a usable ball state for the next drawn frame; anything else goes through
        `on_ball` now (which counts and reports it)."""
        peek = peek_odometry(data)
        if peek is None or not peek.finite or not peek.child_frame_id:
            self.on_ball(deserialize_message(data, Odometry))
            return
        self.ball_bytes[peek.child_frame_id] = data

    def frame_due(self, now_ns: int) -> bool:
        """`max_rate_hz` allows a frame at `now_ns` (steady clock) after the last one drawn."""
        return self.last_publish_ns is None or now_ns - self.last_publish_ns >= self.min_gap_ns

    def on_odom_bytes(self, data: bytes) -> None:
        """A robot state: drawn (`on_odom`) if a frame is due, else only its time is taken; a
        non-finite or unreadable one (or any, where /tf is broadcast) goes through `on_odom`,
        which rejects or broadcasts it."""
        peek = None if self.frame_due(time.monotonic_ns()) else peek_odometry(data)
        if peek is None or not peek.finite or self.tf_pub is not None:
            self.on_odom(deserialize_message(data, Odometry))
            return
        self.keep_pose(peek.stamp_ns, peek.x, peek.y, peek.yaw)
        self.pending_deletes += self.scene.advance_to(peek.stamp_ns)

    def keep_pose(self, stamp: int, x: float, y: float, yaw: float) -> None:
        self.poses[stamp] = (x, y, yaw)
        while len(self.poses) > POSE_HISTORY:
            self.poses.popitem(last=False)

    def on_detections(self, msg: PoseArray) -> None:
        """Place a report with the robot pose at its capture stamp; drawn with the next frame.
        A non-finite one is rejected (counted)."""
        try:
            pts = detection_positions(msg)
        except ValueError:
            self.rejected_outcomes += 1
            self.warn_rejected("detections with a non-finite position")
            return
        pose = self.poses.get(stamp_ns(msg))
        if pose is None:
            self.unplaced_reports += 1
            return
        x, y, yaw = pose
        world = to_world_frame(pts[None], np.array([yaw]))[0] + (x, y)
        self.report = self.scene.detections(world)

    def on_outcome(self, msg: String) -> None:
        """Score the ball and start its flash."""
        try:
            out = msg_to_outcome(msg)
        except ValueError as exc:
            self.rejected_outcomes += 1
            self.warn_rejected(f"malformed outcome ({exc})")
            return
        self.ball_bytes.pop(str(out["ball"]), None)  # its states before the outcome: moot
        self.scene.on_outcome(str(out["ball"]), out["outcome"], bool(out["threat"]))

    def on_odom(self, msg: Odometry) -> None:
        """Draw the scene at this robot state (and broadcast its transform); within
        `max_rate_hz` of the last drawn frame, only keep the scene's time."""
        now = time.monotonic_ns()
        draw = self.frame_due(now)
        if draw:  # the ball states it draws, in the order they came
            for data in self.ball_bytes.values():
                self.on_ball(deserialize_message(data, Odometry))
            self.ball_bytes.clear()
        specs = self.scene.on_odom(msg) if draw else self.scene.advance(msg)
        if specs is None:
            self.warn_rejected("non-finite odom")
            return
        pos, yaw, _ = robot_state(msg)
        self.keep_pose(stamp_ns(msg), float(pos[0]), float(pos[1]), yaw)
        if self.tf_pub is not None and msg.child_frame_id:
            self.tf_pub.publish(self.tf_type(transforms=[transform_from_odometry(msg)]))
        if not draw:
            self.pending_deletes += specs  # a reset's DELETEs (time went back)
            return
        self.last_publish_ns = now
        specs, self.pending_deletes = self.pending_deletes + specs, []
        if self.report is not None:
            specs.append(self.report)
        header = Header(stamp=msg.header.stamp, frame_id=msg.header.frame_id or self.frame_id)
        self.last_header = header
        self.pub.publish(MarkerArray(markers=[to_marker(s, header, self.lifetime)
                                              for s in specs]))

    def clear(self) -> None:
        """Remove everything this node drew from the viewers (DELETEALL)."""
        header = self.last_header or Header(frame_id=self.frame_id)
        self.pub.publish(delete_all(header))


def main(args: list[str] | None = None) -> None:
    """Run the marker node alone (`ros2 run dodge_lstm dodge_markers`)."""
    run_node(DodgeMarkers, SingleThreadedExecutor, args, on_exit=DodgeMarkers.clear)


if __name__ == "__main__":
    main()
