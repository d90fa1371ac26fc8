"""`dodge_markers`: what it draws, and that it never leaks a marker.

1. The ROS-free scene (`core.marker_scene`, plain objects, no rclpy): stable ids per ball,
   threat colours, the outcome flash, DELETEs for every way a ball can leave, the score.
2. The node's message side: Marker conversion, TF only where `tf2_msgs` exists.
3. A real graph (`dodge-lstm sim` bringup, real DDS) recorded by the recorder with its default
   topics: the bag holds `/markers` (checked with the `mcap` reader, decoded with rosbags'
   typestore, both independent of rclpy), every live ball has its sphere in the array of its
   tick, and every resolved ball's markers are deleted on time and never drawn again.

The plausible bugs: ids from a counter that is reset or reused (a new ball inherits an old
DELETE or an old ball's colour), a ball removed by its outcome but never DELETEd (a ghost sphere
that stays in rviz until its lifetime, forever in a viewer that ignores lifetimes), a late
`balls/odom` resurrecting a resolved ball, the recorder's default topics missing `markers`.
"""

from __future__ import annotations

import json
import math
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from dodge_lstm.core import marker_scene as ms

ROBOT_RADIUS, BALL_RADIUS = 0.17, 0.2067
PERIOD_NS = 100_000_000
MARKER_ADD, MARKER_DELETE = 0, 2  # visualization_msgs/Marker actions, as rosbags decodes them


def odom(t_s: float, child: str, x: float, y: float, vx: float = 0.0, vy: float = 0.0,
         yaw: float = 0.0) -> SimpleNamespace:
    """An Odometry-shaped object (what `core.odometry` reads), without rclpy."""
    sec, nanosec = divmod(round(t_s * 1e9), 1_000_000_000)
    return SimpleNamespace(
        header=SimpleNamespace(stamp=SimpleNamespace(sec=sec, nanosec=nanosec), frame_id="odom"),
        child_frame_id=child,
        pose=SimpleNamespace(pose=SimpleNamespace(
            position=SimpleNamespace(x=x, y=y, z=0.0),
            orientation=SimpleNamespace(x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2)))),
        twist=SimpleNamespace(twist=SimpleNamespace(linear=SimpleNamespace(x=vx, y=vy, z=0.0),
                                                    angular=SimpleNamespace(x=0.0, y=0.0,
                                                                            z=0.0))))


def by_key(specs: list[ms.MarkerSpec]) -> dict[tuple[str, int], ms.MarkerSpec]:
    keys = [(s.ns, s.id) for s in specs]
    assert len(keys) == len(set(keys)), f"a marker twice in one array: {keys}"
    return dict(zip(keys, specs))


def tick(scene: ms.MarkerScene, t_s: float, balls: dict[str, tuple[float, ...]] = (),
         robot: tuple[float, float] = (0.0, 0.0)) -> dict[tuple[str, int], ms.MarkerSpec]:
    """One simulator tick: ball states, then the robot's odom; the scene's array by key."""
    for name, state in dict(balls).items():
        assert scene.on_ball(odom(t_s, name, *state))
    return by_key(scene.on_odom(odom(t_s, "base_link", *robot)))


def new_scene(**kwargs) -> ms.MarkerScene:
    return ms.MarkerScene(ROBOT_RADIUS, BALL_RADIUS, **kwargs)


@contextmanager
def running_markers(ros_context, **params):
    """A `dodge_markers` node with `params`, and the MarkerArrays it publishes (received by a
    probe on the same executor, which the caller spins)."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from ros_helpers import spin_until
    from visualization_msgs.msg import MarkerArray

    from dodge_lstm.ros.nodes.markers_node import DodgeMarkers

    node = DodgeMarkers(context=ros_context, parameter_overrides=[
        Parameter(k, value=v) for k, v in params.items()])
    probe = rclpy.create_node("markers_probe", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    arrays: list[MarkerArray] = []
    try:
        probe.create_subscription(MarkerArray, "markers", arrays.append, 100)
        executor.add_node(node)
        executor.add_node(probe)
        assert spin_until(executor, lambda: node.pub.get_subscription_count() > 0, 5.0)
        yield node, executor, arrays
    finally:
        executor.shutdown()
        probe.destroy_node()
        node.destroy_node()


# -- 1. the scene, without ROS ------------------------------------------------------------------


def test_balls_keep_their_ids_and_are_coloured_by_threat():
    scene = new_scene()
    # ball_a flies straight at the robot (threat), ball_b passes 2 m in front (no threat)
    first = tick(scene, 0.0, {"ball_a": (0.0, 4.0, 0.0, -4.0), "ball_b": (2.0, 4.0, 0.0, -4.0)})
    ids = scene.drawn_ids()
    assert sorted(ids.values()) == [0, 1]
    a, b = ids["ball_a"], ids["ball_b"]
    assert first[(ms.NS_BALL, a)].color == ms.THREAT_COLOR
    assert first[(ms.NS_BALL, b)].color == ms.SAFE_COLOR
    sphere = first[(ms.NS_BALL, a)]
    assert sphere.kind == ms.SPHERE and sphere.action == ms.ADD
    assert sphere.scale == pytest.approx((2 * BALL_RADIUS,) * 3)
    assert sphere.position == pytest.approx((0.0, 4.0, BALL_RADIUS))
    arrow = first[(ms.NS_BALL_VELOCITY, a)]  # 0.3 s of flight: 1.2 m toward the robot
    assert arrow.kind == ms.ARROW
    np.testing.assert_allclose(arrow.points, [[0.0, 4.0, BALL_RADIUS], [0.0, 2.8, BALL_RADIUS]])
    body = first[(ms.NS_ROBOT, ms.ROBOT_BODY_ID)]
    assert body.kind == ms.CYLINDER and body.scale[:2] == pytest.approx((2 * ROBOT_RADIUS,) * 2)
    assert first[(ms.NS_ROBOT, ms.ROBOT_HEADING_ID)].kind == ms.ARROW
    assert first[(ms.NS_SCORE, ms.SCORE_ID)].kind == ms.TEXT
    # next tick: same ids, positions moved, nothing deleted
    second = tick(scene, 0.1, {"ball_a": (0.0, 3.6, 0.0, -4.0), "ball_b": (2.0, 3.6, 0.0, -4.0)})
    assert scene.drawn_ids() == ids
    assert second[(ms.NS_BALL, a)].position[1] == pytest.approx(3.6)
    assert all(s.action == ms.ADD for s in second.values())
    # the robot steps aside: ball_a now misses it (threat is judged from the current states)
    third = tick(scene, 0.2, {"ball_a": (0.0, 3.2, 0.0, -4.0)}, robot=(1.0, 0.0))
    assert third[(ms.NS_BALL, a)].color == ms.SAFE_COLOR


def test_an_outcome_flashes_then_deletes_and_the_id_is_never_reused():
    scene = new_scene(flash_s=0.3)
    tick(scene, 0.0, {"ball_a": (0.0, 1.0, 0.0, -4.0)})
    a = scene.drawn_ids()["ball_a"]
    scene.on_outcome("ball_a", "hit", True)
    arrays = [tick(scene, 0.1 * k) for k in range(1, 6)]
    assert arrays[0][(ms.NS_BALL_VELOCITY, a)].action == ms.DELETE  # the arrow goes at once
    # 0.3 s of flashing: red, blinking, where the ball was last seen
    flashes = [arr[(ms.NS_BALL, a)] for arr in arrays[:3]]
    assert all(f.action == ms.ADD and f.color[:3] == ms.HIT_COLOR[:3] for f in flashes)
    assert [f.color[3] for f in flashes] == [1.0, ms.FLASH_DIM_ALPHA, 1.0]
    assert all(f.position == pytest.approx((0.0, 1.0, BALL_RADIUS)) for f in flashes)
    assert arrays[0][(ms.NS_ROBOT, ms.ROBOT_BODY_ID)].color == ms.HIT_COLOR  # the robot too
    assert arrays[3][(ms.NS_BALL, a)].action == ms.DELETE
    assert arrays[3][(ms.NS_ROBOT, ms.ROBOT_BODY_ID)].color == ms.ROBOT_COLOR
    assert (ms.NS_BALL, a) not in arrays[4] and scene.drawn_ids() == {}
    # a new ball (even with the same name: a restarted spawner) gets a fresh id
    tick(scene, 0.6, {"ball_a": (0.0, 4.0, 0.0, -4.0)})
    assert scene.drawn_ids()["ball_a"] != a
    # ... also while the old one is still flashing: that one is deleted, the new one drawn
    scene.on_outcome("ball_a", "passed", False)
    b = scene.drawn_ids()["ball_a"]
    assert tick(scene, 0.7)[(ms.NS_BALL, b)].color == ms.PASSED_COLOR
    arr = tick(scene, 0.8, {"ball_a": (0.0, 4.0, 0.0, -4.0)})
    assert arr[(ms.NS_BALL, b)].action == ms.DELETE
    c = scene.drawn_ids()["ball_a"]
    assert c not in (a, b) and arr[(ms.NS_BALL, c)].color == ms.THREAT_COLOR


def test_passed_flashes_green_and_the_score_counts_outcomes():
    scene = new_scene(flash_s=0.2)
    assert scene.score_text() == "balls 0  hits 0  threat dodge - (0/0)"
    tick(scene, 0.0, {"b1": (0.0, 1.0, 0.0, -4.0), "b2": (3.0, 1.0, 0.0, -4.0)})
    b1 = scene.drawn_ids()["b1"]
    scene.on_outcome("b1", "passed", True)
    scene.on_outcome("b2", "hit", False)
    scene.on_outcome("ghost", "rejected", False)  # a refused spawn: not a ball, not scored
    arr = tick(scene, 0.1)
    assert arr[(ms.NS_BALL, b1)].color == ms.PASSED_COLOR
    assert scene.score_text() == "balls 2  hits 1  threat dodge 100% (1/1)"
    assert arr[(ms.NS_SCORE, ms.SCORE_ID)].text.startswith("balls 2  hits 1")


def test_every_way_a_ball_leaves_ends_in_a_delete():
    scene = new_scene(ball_timeout_s=0.25, flash_s=0.0)
    tick(scene, 0.0, {"quiet": (0.0, 4.0, 0.0, -1.0), "refused": (1.0, 4.0, 0.0, -1.0),
                      "resolved": (2.0, 4.0, 0.0, -1.0)})
    ids = scene.drawn_ids()
    scene.on_outcome("refused", "rejected", False)
    scene.on_outcome("resolved", "passed", False)
    arr = tick(scene, 0.1, {"quiet": (0.0, 3.9, 0.0, -1.0)})
    for name in ("refused", "resolved"):  # no flash (flash_s=0): sphere and arrow go at once
        assert arr[(ms.NS_BALL, ids[name])].action == ms.DELETE
        assert arr[(ms.NS_BALL_VELOCITY, ids[name])].action == ms.DELETE
    # a late state of a resolved ball (stamped before its outcome) does not bring it back
    assert scene.on_ball(odom(0.0, "resolved", 2.0, 4.0, 0.0, -1.0))
    arr = tick(scene, 0.2)
    assert not any(k[0] == ms.NS_BALL and k[1] not in ids.values() for k in arr)
    assert "resolved" not in scene.drawn_ids()
    # "quiet" stops publishing: deleted once older than the timeout (0.1 s + 0.25 s)
    assert tick(scene, 0.3)[(ms.NS_BALL, ids["quiet"])].action == ms.ADD
    assert tick(scene, 0.4)[(ms.NS_BALL, ids["quiet"])].action == ms.DELETE
    assert scene.drawn_ids() == {}


def test_time_going_back_deletes_everything_and_restarts_the_score():
    scene = new_scene()
    tick(scene, 5.0, {"b": (0.0, 4.0, 0.0, -4.0)})
    scene.on_outcome("x", "hit", True)
    b = scene.drawn_ids()["b"]
    arr = tick(scene, 0.0)  # a simulator restart (or a looping bag)
    assert arr[(ms.NS_BALL, b)].action == ms.DELETE
    assert arr[(ms.NS_BALL_VELOCITY, b)].action == ms.DELETE
    assert scene.tally.balls == 0 and scene.drawn_ids() == {}


def test_non_finite_odometry_is_rejected_and_counted():
    scene = new_scene()
    assert scene.on_odom(odom(0.0, "base_link", math.nan, 0.0)) is None
    assert scene.rejected == 1
    assert not scene.on_ball(odom(0.0, "b", 0.0, math.inf))
    assert scene.tracker.rejected == 1
    with pytest.raises(ValueError):
        ms.MarkerScene(0.0, BALL_RADIUS)


# -- 2. the node's messages ---------------------------------------------------------------------


@pytest.mark.ros
def test_specs_become_markers_and_tf_only_where_tf2_msgs_exists(ros_context):
    pytest.importorskip("visualization_msgs")
    from builtin_interfaces.msg import Duration
    from std_msgs.msg import Header
    from visualization_msgs.msg import Marker

    from dodge_lstm.ros.nodes.markers_node import (
        DodgeMarkers,
        delete_all,
        tf_message_type,
        to_marker,
        transform_from_odometry,
    )

    header = Header(frame_id="odom")
    life = Duration(sec=1)
    arrow = ms.MarkerSpec(ms.NS_BALL_VELOCITY, 7, ms.ARROW,
                          points=((0.0, 1.0, 0.2), (0.0, 0.0, 0.2)), color=ms.THREAT_COLOR)
    m = to_marker(arrow, header, life)
    assert (m.ns, m.id, m.type, m.action) == (ms.NS_BALL_VELOCITY, 7, Marker.ARROW, Marker.ADD)
    assert [p.y for p in m.points] == [1.0, 0.0] and m.lifetime.sec == 1
    assert m.color.r == pytest.approx(ms.THREAT_COLOR[0])
    gone = to_marker(ms.MarkerSpec(ms.NS_BALL, 7, ms.SPHERE, ms.DELETE), header, life)
    assert (gone.action, gone.ns, gone.id, gone.header.frame_id) == (Marker.DELETE, "balls", 7,
                                                                     "odom")
    assert delete_all(header).markers[0].action == Marker.DELETEALL

    from nav_msgs.msg import Odometry

    msg = Odometry(child_frame_id="base_link")
    msg.header.frame_id = "odom"
    msg.pose.pose.position.x = 1.5
    msg.pose.pose.orientation.w = 1.0
    t = transform_from_odometry(msg)
    assert (t.header.frame_id, t.child_frame_id, t.transform.translation.x) == \
        ("odom", "base_link", 1.5)

    node = DodgeMarkers(context=ros_context)
    try:
        if tf_message_type() is None:  # the pip wheels: no /tf publisher at all
            assert node.tf_pub is None and node.count_publishers("/tf") == 0
        else:  # a ROS distro: odom -> base_link is broadcast
            assert node.tf_pub is not None
        assert node.count_publishers("markers") == 1
    finally:
        node.destroy_node()


@pytest.mark.ros
def test_frames_over_max_rate_are_skipped_but_nothing_they_held_is_lost(ros_context):
    """`max_rate_hz` (issue 18: a lockstep graph ticks hundreds of times a second): a burst of
    robot states draws one frame; a ball seen only in skipped frames is drawn at its newest
    state in the next one; a ball resolved in between is DELETEd there; a non-finite state in a
    skipped frame is still rejected and counted. Real publisher/subscriber in the node's own
    process, messages serialized as they would arrive. Mutants caught: the rate ignored (a
    frame per state), the newest state dropped (`ball_bytes` not flushed), an outcome's DELETE
    swallowed by a skipped frame, NaN taken from the raw bytes unchecked."""
    import time

    from nav_msgs.msg import Odometry
    from rclpy.serialization import serialize_message
    from ros_helpers import spin_until

    from dodge_lstm.ros.messages import outcome_to_msg

    def wire(t_s: float, child: str, x: float, y: float, vx: float = 0.0, vy: float = 0.0):
        msg = Odometry()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(round(t_s * 1e9), 10**9)
        msg.header.frame_id, msg.child_frame_id = "odom", child
        msg.pose.pose.position.x, msg.pose.pose.position.y = x, y
        msg.pose.pose.orientation.w = 1.0
        msg.twist.twist.linear.x, msg.twist.twist.linear.y = vx, vy
        return serialize_message(msg)

    gap_s = 0.2
    with running_markers(ros_context, max_rate_hz=1.0 / gap_s,
                         flash_duration=0.0) as (node, executor, arrays):
        node.on_ball_bytes(wire(0.0, "ball_a", 0.0, 3.0, 0.0, -1.0))
        node.on_odom_bytes(wire(0.0, "base_link", 0.0, 0.0))  # drawn: the first frame
        a_id = node.scene.drawn_ids()["ball_a"]
        rejected = node.rejected
        for k in range(1, 20):  # a burst: 19 ticks inside the gap
            t = 0.1 * k
            node.on_ball_bytes(wire(t, "ball_b", 2.0, 0.0 + t, -1.0, 0.0))
            if k == 5:
                node.on_ball_bytes(wire(t, "ball_c", math.nan, 0.0))
            if k < 10:
                node.on_ball_bytes(wire(t, "ball_a", 0.0, 3.0 - t, 0.0, -1.0))
            if k == 10:
                node.on_outcome(outcome_to_msg("ball_a", "passed", False, t))
            node.on_odom_bytes(wire(t, "base_link", 0.0, 0.0))
        assert node.rejected == rejected + 1  # the NaN ball, though its frame was skipped
        time.sleep(gap_s)  # the limit is wall time by design: let it pass once
        node.on_odom_bytes(wire(2.0, "base_link", 0.0, 0.0))
        assert spin_until(executor, lambda: len(arrays) >= 2, 5.0)
        spin_until(executor, lambda: False, 0.3)  # anything else would arrive now
        assert len(arrays) == 2, [len(a.markers) for a in arrays]
        last = {(m.ns, m.id): m for m in arrays[1].markers}
        assert last[(ms.NS_BALL, a_id)].action == MARKER_DELETE
        b_id = node.scene.drawn_ids()["ball_b"]
        sphere = last[(ms.NS_BALL, b_id)]
        assert sphere.action == MARKER_ADD
        # Its newest state (t=1.9: x 2.0, y 1.9, vx -1) propagated to the frame's stamp (2.0).
        assert (sphere.pose.position.x, sphere.pose.position.y) == pytest.approx((1.9, 1.9))
        assert "ball_c" not in node.scene.drawn_ids()


# -- 3. a real graph, recorded --------------------------------------------------------------------


def _read_bag(bag: Path) -> tuple[dict, dict[str, list[tuple[int, object]]]]:
    """Channel info and decoded messages per topic, read with `mcap` and rosbags' typestore."""
    from mcap.reader import make_reader
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    (path,) = bag.glob("*.mcap")
    with path.open("rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        channels = {ch.topic: (summary.schemas[ch.schema_id].name, ch.message_encoding,
                               summary.statistics.channel_message_counts.get(cid, 0))
                    for cid, ch in summary.channels.items()}
        messages: dict[str, list[tuple[int, object]]] = {}
        for schema, channel, message in reader.iter_messages():
            messages.setdefault(channel.topic, []).append(
                (message.log_time, store.deserialize_cdr(message.data, schema.name)))
    return channels, messages


def _ns(stamp) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def _is_live_color(c) -> bool:
    """Threat or safe colour, fully opaque: a live ball, not a flash (float32 on the wire)."""
    rgba = (c.r, c.g, c.b, c.a)
    return any(np.allclose(rgba, col, atol=1e-6) for col in (ms.THREAT_COLOR, ms.SAFE_COLOR))


@pytest.mark.ros
def test_recorded_graph_draws_every_ball_and_deletes_every_resolved_one(tmp_path):
    pytest.importorskip("rclpy")
    pytest.importorskip("visualization_msgs")
    pytest.importorskip("mcap")
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions
    from dodge_lstm.ros.nodes.recorder_node import DEFAULT_TOPICS

    assert "markers" in DEFAULT_TOPICS and "dodge/window" not in DEFAULT_TOPICS
    bag = tmp_path / "bag"
    s = run_sim(SimOptions(duration=20.0, policy="expert", record=str(bag),
                           real_time_factor=2.0, seed=3))
    assert s["balls"] >= 8, s
    # The recorder found every default topic (none "never found") and lost nothing.
    assert set(s["bag"]["topics"]) == {f"/{t}" for t in DEFAULT_TOPICS}, s["bag"]
    channels, msgs = _read_bag(bag)
    schema, encoding, count = channels["/markers"]
    assert (schema, encoding) == ("visualization_msgs/msg/MarkerArray", "cdr")
    assert count == len(msgs["/markers"]) == s["bag"]["topics"]["/markers"]["written"] > 150
    # One array per robot odom, stamped like it, in the odom frame.
    arrays = {_ns(a.markers[0].header.stamp): a.markers for _, a in msgs["/markers"]}
    odom_stamps = {_ns(m.header.stamp) for _, m in msgs["/odom"]}
    assert set(arrays) <= odom_stamps and len(arrays) >= len(odom_stamps) - 5
    assert {m.header.frame_id for ms_ in arrays.values() for m in ms_} == {"odom"}

    # Ball states per stamp, and outcomes per ball.
    live: dict[str, dict[int, tuple[float, float]]] = {}
    for _, b in msgs["/balls/odom"]:
        live.setdefault(b.child_frame_id, {})[_ns(b.header.stamp)] = (
            b.pose.pose.position.x, b.pose.pose.position.y)
    outcome_ns = {}
    for _, o in msgs["/balls/outcome"]:
        out = json.loads(o.data)
        if out["outcome"] != "rejected":
            outcome_ns[out["ball"]] = round(out["t"] * 1e9)

    # Link each ball name to its sphere id: the sphere drawn at the ball's position and stamp.
    ball_id: dict[str, int] = {}
    for name, states in live.items():
        for t, (x, y) in sorted(states.items()):
            hits = [m.id for m in arrays.get(t, []) if m.ns == ms.NS_BALL and m.action == MARKER_ADD
                    and abs(m.pose.position.x - x) < 1e-6 and abs(m.pose.position.y - y) < 1e-6]
            if hits:
                assert ball_id.setdefault(name, hits[0]) == hits[0], (name, hits)
    assert set(ball_id) == set(live), set(live) - set(ball_id)
    assert len(set(ball_id.values())) == len(ball_id), "two balls share a marker id"

    last = max(arrays)
    flash_ns = 500_000_000  # params/dodge_lstm.yaml flash_duration
    resolved = 0
    for name, i in ball_id.items():
        states = live[name]
        # Drawn at every tick the ball is live (its first message may reach the node a tick late).
        drawn = {t for t, ms_ in arrays.items() for m in ms_
                 if m.ns == ms.NS_BALL and m.id == i and m.action == MARKER_ADD
                 and _is_live_color(m.color)}
        expected = {t for t in states if t in arrays} - {min(states)}
        assert expected <= drawn, (name, sorted(expected - drawn)[:5])
        # Per marker: every ADD before the one DELETE, none after it.
        for ns in (ms.NS_BALL, ms.NS_BALL_VELOCITY):
            actions = [(t, m.action) for t in sorted(arrays) for m in arrays[t]
                       if m.ns == ns and m.id == i]
            deletes = [t for t, a in actions if a == MARKER_DELETE]
            assert len(deletes) <= 1, (name, ns, deletes)
            if deletes:
                assert all(t < deletes[0] for t, a in actions if a == MARKER_ADD), (name, ns)
            if name in outcome_ns and outcome_ns[name] + flash_ns + 2 * PERIOD_NS <= last:
                # Resolved in time to be seen: the arrow goes at once, the sphere after its flash.
                assert deletes, (name, ns, "never deleted")
                late = flash_ns if ns == ms.NS_BALL else 0
                assert outcome_ns[name] <= deletes[0] <= outcome_ns[name] + late + \
                    2 * PERIOD_NS, (name, ns, deletes[0] - outcome_ns[name])
            elif not deletes:
                # No ball marker outlives its ball: undeleted only if live or flashing at the end.
                assert max(states) >= last - 2 * PERIOD_NS or name in outcome_ns, (name, ns)
        resolved += name in outcome_ns
    assert resolved >= 8
    # The score text counts what the graph's observer counted, give or take the last ball.
    score = next(m.text for m in arrays[last] if m.ns == ms.NS_SCORE)
    assert abs(int(score.split()[1]) - s["balls"]) <= 2, (score, s["balls"])
    assert np.isfinite([m.pose.position.x for ms_ in arrays.values() for m in ms_]).all()


def test_detections_are_drawn_where_the_robot_was_at_capture(ros_context):
    """A detector report (base_link, stamped at capture) is drawn as one POINTS marker in the
    odom frame, placed with the robot pose of its capture stamp, also when that robot state
    came through a skipped frame (the raw path); the next report replaces it (same id); a
    report with a NaN is rejected and counted; one with an unknown capture stamp is not drawn.
    Mutants caught: the pose now instead of at capture, points left in base_link."""
    from geometry_msgs.msg import Pose, PoseArray
    from nav_msgs.msg import Odometry
    from rclpy.serialization import serialize_message
    from ros_helpers import spin_until
    from visualization_msgs.msg import Marker

    from dodge_lstm.ros.messages import quaternion_from_yaw

    def stamp_of(t_s: float):
        msg = Odometry()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(round(t_s * 1e9), 10**9)
        return msg.header.stamp

    def robot(t_s: float, x: float, yaw: float) -> bytes:
        msg = Odometry()
        msg.header.stamp = stamp_of(t_s)
        msg.header.frame_id, msg.child_frame_id = "odom", "base_link"
        msg.pose.pose.position.x = x
        msg.pose.pose.orientation = quaternion_from_yaw(yaw)
        return serialize_message(msg)

    def report(t_s: float, *pts: tuple[float, float]) -> PoseArray:
        m = PoseArray()
        m.header.stamp, m.header.frame_id = stamp_of(t_s), "base_link"
        for x, y in pts:
            p = Pose()
            p.position.x, p.position.y = x, y
            m.poses.append(p)
        return m

    # After the first frame, every frame is skipped.
    with running_markers(ros_context, max_rate_hz=0.5) as (node, executor, arrays):
        node.on_odom_bytes(robot(0.0, 0.0, 0.0))  # drawn
        node.on_odom_bytes(robot(0.1, 1.0, math.pi / 2))  # skipped: only its pose is kept
        node.on_odom_bytes(robot(0.2, 2.0, 0.0))  # skipped
        node.on_detections(report(0.1, (1.0, 0.0), (0.0, -2.0)))  # captured at 0.1 s
        node.on_detections(report(9.9, (1.0, 0.0)))  # no pose then: not drawn
        rejected = node.rejected
        node.on_detections(report(0.2, (math.nan, 0.0)))
        assert node.rejected == rejected + 1 and node.unplaced_reports == 1
        node.last_publish_ns = None  # let the next frame through
        node.on_odom_bytes(robot(0.3, 3.0, 0.0))
        assert spin_until(executor, lambda: len(arrays) >= 2, 5.0)
    points = [m for m in arrays[-1].markers if m.ns == ms.NS_DETECTIONS]
    assert len(points) == 1 and points[0].type == Marker.POINTS
    assert points[0].id == ms.DETECTIONS_ID and points[0].header.frame_id == "odom"
    got = [(p.x, p.y) for p in points[0].points]
    # Robot at (1, 0) facing +y at capture: base_link (1, 0) is odom (1, 1); (0, -2) is (3, 0).
    assert got == [pytest.approx((1.0, 1.0)), pytest.approx((3.0, 0.0))]
    assert not any(m.ns == ms.NS_DETECTIONS for m in arrays[0].markers)  # none before a report
