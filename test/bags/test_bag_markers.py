"""The `markers` topic of a bag, as a viewer shows it at a moment, and its still.

A hand-written MarkerArray sequence (rosbags only, no rclpy) walks through every rule: ADDs, a
MODIFY of the same id that moves it, DELETE (and one of an id never added), DELETEALL followed by
an ADD in the same array, DELETEALL of one namespace, a lifetime that expires (counted from the
receive time), a re-ADD after expiry, and a non-finite marker that must be ignored.

The plausible bugs: markers applied out of order or by stamp instead of receive time, a MODIFY
that adds a second marker, DELETEALL applied after the ADDs of its own array, a lifetime counted
from the wrong clock or never applied, the bag's time 0 taken from the markers topic instead of
the bag's first message, and a still centred on the wrong thing or blank.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from rosbags.typesys.stores import ros2_kilted as t

from dodge_lstm.bags.bag_markers import MARKER_ARRAY, TYPE_NAMES, MarkerTimeline, markers_at
from dodge_lstm.bags.rosbag_io import open_writer, typestore
from dodge_lstm.cli import main
from dodge_lstm.core import marker_scene

M = t.visualization_msgs__msg__Marker
S = 1_000_000_000
T0 = 7 * S  # receive time of the bag's first message (not on the markers topic)
STRING = "std_msgs/msg/String"

ROBOT_RGBA = marker_scene.ROBOT_COLOR
BALL_RGBA = marker_scene.THREAT_COLOR


def marker(ns: str, id: int, kind: int = M.SPHERE, action: int = M.ADD, xy=(0.0, 0.0),
           z: float = 0.0, yaw: float = 0.0, scale=(0.4, 0.4, 0.4), rgba=BALL_RGBA,
           lifetime_s: float = 0.0, points=(), text: str = "", stamp_s: float = 50.0):
    sec, nsec = divmod(round(stamp_s * S), S)
    life_sec, life_nsec = divmod(round(lifetime_s * S), S)
    return M(
        header=t.std_msgs__msg__Header(
            stamp=t.builtin_interfaces__msg__Time(sec=sec, nanosec=nsec), frame_id="odom"),
        ns=ns, id=id, type=kind, action=action,
        pose=t.geometry_msgs__msg__Pose(
            position=t.geometry_msgs__msg__Point(x=float(xy[0]), y=float(xy[1]), z=z),
            orientation=t.geometry_msgs__msg__Quaternion(
                x=0.0, y=0.0, z=math.sin(yaw / 2), w=math.cos(yaw / 2))),
        scale=t.geometry_msgs__msg__Vector3(x=scale[0], y=scale[1], z=scale[2]),
        color=t.std_msgs__msg__ColorRGBA(r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3]),
        lifetime=t.builtin_interfaces__msg__Duration(sec=life_sec, nanosec=life_nsec),
        frame_locked=False,
        points=[t.geometry_msgs__msg__Point(x=p[0], y=p[1], z=p[2]) for p in points],
        colors=[], texture_resource="",
        texture=t.sensor_msgs__msg__CompressedImage(
            header=t.std_msgs__msg__Header(
                stamp=t.builtin_interfaces__msg__Time(sec=0, nanosec=0), frame_id=""),
            format="", data=np.zeros(0, dtype=np.uint8)),
        uv_coordinates=[], text=text, mesh_resource="",
        mesh_file=t.visualization_msgs__msg__MeshFile(filename="",
                                                      data=np.zeros(0, dtype=np.uint8)),
        mesh_use_embedded_materials=False)


def robot(xy, **kw):
    return marker("robot", 0, M.CYLINDER, xy=xy, z=0.1, scale=(0.34, 0.34, 0.2),
                  rgba=ROBOT_RGBA, **kw)


ARROW_POINTS = ((3.0, 0.0, 0.2), (2.5, 0.0, 0.2))

# (receive time after the bag's first message [s], markers of one MarkerArray)
SEQUENCE = [
    (0.5, [robot((1.0, 2.0), yaw=0.3),
           marker("balls", 0, xy=(3.0, 0.0), z=0.2),
           marker("balls", 1, xy=(0.0, 3.0), z=0.2, lifetime_s=1.0),  # gone from 1.5
           marker("ball_velocity", 0, M.ARROW, points=ARROW_POINTS, scale=(0.04, 0.09, 0.09)),
           marker("score", 0, M.TEXT_VIEW_FACING, xy=(1.0, 2.0), z=0.9, scale=(0, 0, 0.22),
                  rgba=(1.0, 1.0, 1.0, 1.0), text="balls 0\nspeed 0.00 m/s")]),
    (1.0, [marker("balls", 0, action=M.MODIFY, xy=(2.0, 0.0), z=0.2)]),  # moves
    (1.2, [marker("balls", 0, action=M.DELETE), marker("balls", 99, action=M.DELETE)]),
    (2.0, [robot((1.5, 2.0)),
           marker("balls", 1, xy=(0.0, 4.0), z=0.2),  # back after it expired
           marker("balls", 2, xy=(5.0, 5.0), z=0.2, lifetime_s=0.3)]),  # gone from 2.3
    (2.5, [marker("", 0, action=M.DELETEALL), robot((9.0, 9.0))]),  # cleared, then re-added
    (2.7, [marker("balls", 3, xy=(8.0, 8.0), z=0.2),
           marker("score", 0, M.TEXT_VIEW_FACING, xy=(9.0, 9.0), z=0.9, scale=(0, 0, 0.22),
                  text="after")]),
    (3.0, [marker("balls", 0, action=M.DELETEALL)]),  # this namespace only
    (3.2, [robot((math.nan, 9.0))]),  # non-finite: ignored, the robot stays
]
END_S = 3.5

# What a viewer shows at each time: {(ns, id): (x, y)}.
EXPECTED = {
    0.25: {},
    0.5: {("robot", 0): (1, 2), ("balls", 0): (3, 0), ("balls", 1): (0, 3),
          ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    0.99: {("robot", 0): (1, 2), ("balls", 0): (3, 0), ("balls", 1): (0, 3),
           ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    1.0: {("robot", 0): (1, 2), ("balls", 0): (2, 0), ("balls", 1): (0, 3),
          ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    1.2: {("robot", 0): (1, 2), ("balls", 1): (0, 3), ("ball_velocity", 0): (0, 0),
          ("score", 0): (1, 2)},
    1.499: {("robot", 0): (1, 2), ("balls", 1): (0, 3), ("ball_velocity", 0): (0, 0),
            ("score", 0): (1, 2)},
    1.5: {("robot", 0): (1, 2), ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    2.0: {("robot", 0): (1.5, 2), ("balls", 1): (0, 4), ("balls", 2): (5, 5),
          ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    2.299: {("robot", 0): (1.5, 2), ("balls", 1): (0, 4), ("balls", 2): (5, 5),
            ("ball_velocity", 0): (0, 0), ("score", 0): (1, 2)},
    2.3: {("robot", 0): (1.5, 2), ("balls", 1): (0, 4), ("ball_velocity", 0): (0, 0),
          ("score", 0): (1, 2)},
    2.5: {("robot", 0): (9, 9)},
    2.7: {("robot", 0): (9, 9), ("balls", 3): (8, 8), ("score", 0): (9, 9)},
    3.0: {("robot", 0): (9, 9), ("score", 0): (9, 9)},
    END_S: {("robot", 0): (9, 9), ("score", 0): (9, 9)},
}


def write_marker_bag(path, storage: str = "mcap"):
    """The sequence as a bag, after one message on another topic (the bag's time 0)."""
    store = typestore()
    with open_writer(path, storage=storage) as bag:
        bag.add_topic("/chatter", STRING)
        bag.add_topic("/markers", MARKER_ARRAY)

        def chatter(text: str, at_s: float) -> None:
            bag.write("/chatter", bytes(store.serialize_cdr(
                t.std_msgs__msg__String(data=text), STRING)), T0 + round(at_s * S))

        chatter("start", 0.0)
        for at_s, markers in SEQUENCE:
            data = store.serialize_cdr(t.visualization_msgs__msg__MarkerArray(markers=markers),
                                       MARKER_ARRAY)
            bag.write("/markers", bytes(data), T0 + round(at_s * S))
        chatter("end", END_S)
    return path


@pytest.fixture(scope="module")
def marker_bag(tmp_path_factory):
    return write_marker_bag(tmp_path_factory.mktemp("markers") / "bag")


def test_the_kilted_typestore_has_marker_arrays_and_our_type_names():
    store = typestore()
    assert MARKER_ARRAY in store.fielddefs
    for name in ("ARROW", "CUBE", "SPHERE", "CYLINDER", "TEXT_VIEW_FACING", "ARROW_STRIP"):
        assert TYPE_NAMES[getattr(M, name)] == name
    assert (M.ADD, M.MODIFY, M.DELETE, M.DELETEALL) == (0, 0, 2, 3)


@pytest.mark.parametrize("at_s", sorted(EXPECTED))
def test_the_scene_at_a_time_has_exactly_the_right_markers(marker_bag, at_s):
    snap = markers_at(marker_bag, at_s)
    got = {m.key: m.pose[:2] for m in snap.markers}
    assert set(got) == set(EXPECTED[at_s])
    for key, xy in EXPECTED[at_s].items():
        assert got[key] == pytest.approx(xy, abs=1e-12), key
    assert snap.topic == "/markers"
    assert snap.rejected == (1 if at_s >= 3.2 else 0)
    assert snap.arrays == sum(1 for when, _ in SEQUENCE if when <= at_s)


def test_markers_keep_every_field(marker_bag):
    shown = {m.key: m for m in markers_at(marker_bag, 0.5).markers}
    body = shown[("robot", 0)]
    assert body.type == marker_scene.CYLINDER and body.frame_id == "odom"
    assert body.pose == pytest.approx((1.0, 2.0, 0.3)) and body.z == pytest.approx(0.1)
    assert body.scale == pytest.approx((0.34, 0.34, 0.2))
    assert body.color == pytest.approx(ROBOT_RGBA)
    assert body.stamp_ns == 50 * S and body.received_ns == T0 + S // 2
    assert body.expires_ns is None  # lifetime 0: forever
    assert shown[("balls", 1)].expires_ns == T0 + round(1.5 * S)  # receive time + lifetime
    arrow = shown[("ball_velocity", 0)]
    assert arrow.type == marker_scene.ARROW and arrow.points == ARROW_POINTS
    text = shown[("score", 0)]
    assert text.type == marker_scene.TEXT and text.text == "balls 0\nspeed 0.00 m/s"


def test_lifetimes_run_on_the_receive_clock_not_the_stamp():
    """A marker stamped long ago (or with stamp 0) still shows for its lifetime after it
    arrives; one stamped in the future does not outlive it."""
    for stamp_s in (0.0, 1e6):
        tl = MarkerTimeline()
        tl.apply([marker("balls", 0, lifetime_s=1.0, stamp_s=stamp_s)], 100 * S)
        assert [m.key for m in tl.scene(100 * S)] == [("balls", 0)]
        assert [m.key for m in tl.scene(101 * S - 1)] == [("balls", 0)]
        assert tl.scene(101 * S) == []


def test_time_zero_is_the_first_message_of_any_topic_and_the_end_is_enforced(marker_bag):
    with pytest.raises(ValueError, match=r"ends 3\.50 s after its first message"):
        markers_at(marker_bag, END_S + 0.01)
    with pytest.raises(ValueError, match="finite number of seconds"):
        markers_at(marker_bag, -1.0)


def _pixel(world_xy, centre_xy):
    """Pixel (column, row) of a world point in a still centred on `centre_xy`."""
    from dodge_lstm.viz.episode_gif import VIEW_M
    from dodge_lstm.viz.marker_still import AXES, DPI, SIZE_IN

    width, height = SIZE_IN[0] * DPI, SIZE_IN[1] * DPI
    fx = AXES[0] + AXES[2] * (world_xy[0] - centre_xy[0] + VIEW_M) / (2 * VIEW_M)
    fy = AXES[1] + AXES[3] * (world_xy[1] - centre_xy[1] + VIEW_M) / (2 * VIEW_M)
    return round(fx * width), round((1 - fy) * height)


def _rgb(rgba):
    return np.array([round(c * 255) for c in rgba[:3]])


def test_a_still_through_the_cli_is_centred_on_the_robot(marker_bag, tmp_path, capsys):
    from PIL import Image

    from dodge_lstm.viz.marker_still import DPI, SIZE_IN

    png = tmp_path / "still.png"
    assert main(["render", "--bag", str(marker_bag), "--still", "0.5", "--out", str(png)]) == 0
    assert "5 markers of /markers at 0.5 s" in capsys.readouterr().out
    with Image.open(png) as im:
        assert im.size == (SIZE_IN[0] * DPI, SIZE_IN[1] * DPI)
        rgb = np.asarray(im.convert("RGB")).astype(int)
    robot_at = (1.0, 2.0)
    col, row = _pixel(robot_at, robot_at)
    assert np.abs(rgb[row, col] - _rgb(ROBOT_RGBA)).max() <= 3  # the robot in the middle
    col, row = _pixel((3.0, 0.1), robot_at)  # inside ball 0, beside its velocity arrow
    assert np.abs(rgb[row, col] - _rgb(BALL_RGBA)).max() <= 3
    col, row = _pixel((-1.5, -3.5), robot_at)  # empty floor between grid lines
    assert np.abs(rgb[row, col] - 48).max() <= 3


@pytest.mark.parametrize(("argv", "says"), [
    (["--still", "1"], "--still needs --bag"),
    (["--bag", "BAG", "--still", "1", "--out-gif"], "--out must end in .png"),
    (["--bag", "BAG", "--still", "9"], "9 s is past its end"),
    (["--bag", "BAG", "--still", "0.2"], "no markers are shown 0.2 s after its first message"),
])
def test_still_errors_exit_2_and_write_nothing(marker_bag, tmp_path, capsys, argv, says):
    out = tmp_path / ("x.gif" if "--out-gif" in argv else "x.png")
    argv = [str(marker_bag) if a == "BAG" else a for a in argv if a != "--out-gif"]
    assert main(["render", *argv, "--out", str(out)]) == 2
    assert says in capsys.readouterr().err
    assert not out.exists()


def test_a_bag_without_markers_is_refused(tmp_path, capsys):
    from arena_bags import record_arena, write_rosbags

    bag = write_rosbags(record_arena(5, seed=3), tmp_path / "bag")
    png = tmp_path / "x.png"
    assert main(["render", "--bag", str(bag), "--still", "0.1", "--out", str(png)]) == 2
    err = capsys.readouterr().err
    assert "has no messages on /markers" in err and "/odom" in err  # names what it does hold
    assert not png.exists()


@pytest.mark.ros
def test_a_still_of_a_bag_recorded_by_the_graph(tmp_path, capsys):
    pytest.importorskip("rclpy")
    from PIL import Image

    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions
    from dodge_lstm.viz.marker_still import DPI, SIZE_IN

    bag = tmp_path / "bag"
    summary = run_sim(SimOptions(duration=5, policy="expert", record=str(bag)))
    assert summary["bag"]["topics"]["/markers"]["written"] >= 40
    png = tmp_path / "still.png"
    assert main(["render", "--bag", str(bag), "--still", "3", "--out", str(png)]) == 0
    assert "markers of /markers at 3 s" in capsys.readouterr().out
    with Image.open(png) as im:
        assert im.size == (SIZE_IN[0] * DPI, SIZE_IN[1] * DPI)
        rgb = im.convert("RGB")
        assert len(rgb.getcolors(maxcolors=1 << 20)) > 1  # not blank
        pixels = np.asarray(rgb).astype(int)
    snap = markers_at(bag, 3.0)
    kinds = {(m.ns, m.type) for m in snap.markers}
    assert {("robot", marker_scene.CYLINDER), ("robot", marker_scene.ARROW),
            ("score", marker_scene.TEXT)} <= kinds
    body = next(m for m in snap.markers if m.key == ("robot", 0))
    # just behind the robot's centre (its heading arrow starts there): blue, or red after a hit
    x, y, yaw = body.pose
    behind = (x - 0.1 * math.cos(yaw), y - 0.1 * math.sin(yaw))
    col, row = _pixel(behind, (x, y))
    assert min(np.abs(pixels[row, col] - _rgb(c)).max()
               for c in (marker_scene.ROBOT_COLOR, marker_scene.HIT_COLOR)) <= 3
