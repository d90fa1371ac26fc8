"""The recorder node over real DDS, and the bag helpers it writes through.

1. ``bags``: serialized rclpy messages written with ``open_writer`` read back with
   ``read_messages`` (the ``dodge-lstm dataset --bag`` path), MCAP and sqlite3.
2. In-process recorder: Twist and latched Odometry from a probe node, stopped through the real
   ``~/stop`` service; the bag is checked with the ``mcap`` package (not rosbags) and the payloads
   with ``rclpy.serialization``.
3. Recorder as a subprocess stopped by SIGINT: the bag is complete and holds every message the
   recorder acknowledged through ``~/start`` (a status query while recording); so it is, and
   the exit code 0, when a second SIGINT lands while the recorder shuts down.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

rclpy = pytest.importorskip("rclpy")
# An optional test dependency (requirements-dev.txt): skipped with the reason where it is
# missing (a ROS install's `colcon test`); CI has it.
make_reader = pytest.importorskip(
    "mcap.reader", reason="mcap is not installed (pip install -r requirements-dev.txt)"
).make_reader

from geometry_msgs.msg import Twist  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from ros_helpers import call_service, spin_until  # noqa: E402
from rosbags.rosbag2 import WriterError  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from dodge_lstm.bags import rosbag_io as bags  # noqa: E402
from dodge_lstm.ros.nodes.recorder_node import RecorderNode  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
TWIST = "geometry_msgs/msg/Twist"
ODOM = "nav_msgs/msg/Odometry"
CDR_LE_HEADER = b"\x00\x01\x00\x00"  # CDR encapsulation, little endian, no options


def make_twist(i: int) -> Twist:
    msg = Twist()
    msg.linear.x = 0.5 * i
    msg.angular.z = -float(i)
    return msg


def make_odom(i: int) -> Odometry:
    msg = Odometry()
    msg.header.stamp.sec = 100 + i
    msg.header.stamp.nanosec = 1000 * i
    msg.header.frame_id = "odom"
    msg.child_frame_id = "base_link"
    msg.pose.pose.position.x = 0.1 * i
    msg.pose.pose.orientation.w = 1.0
    msg.twist.twist.linear.x = 1.0 + i
    return msg


def read_mcap(bag: Path) -> dict[str, list[tuple[str, int, bytes]]]:
    """Messages per topic as ``(schema name, log time, CDR bytes)``, read with ``mcap`` only."""
    (mcap_file,) = bag.glob("*.mcap")
    topics: dict[str, list[tuple[str, int, bytes]]] = {}
    with mcap_file.open("rb") as fh:
        reader = make_reader(fh, validate_crcs=True)
        summary = reader.get_summary()
        assert summary is not None, "no summary section: the bag was not closed"
        for channel in summary.channels.values():
            topics[channel.topic] = []
            assert channel.message_encoding == "cdr"
        for schema, channel, message in reader.iter_messages():
            assert schema is not None and schema.encoding == "ros2msg"
            topics[channel.topic].append((schema.name, message.log_time, message.data))
    return topics


def assert_payloads(records: list[tuple[str, int, bytes]], msgtype: str, cls: Any, make: Any):
    """Each record has the type and, in order, the content of ``make(0)``, ``make(1)``, ..."""
    times = [t for _, t, _ in records]
    assert times == sorted(times)
    for i, (schema, _, data) in enumerate(records):
        assert schema == msgtype
        assert data[:4] == CDR_LE_HEADER
        assert deserialize_message(data, cls) == make(i)


# -- 1. bags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bags_round_trip_raw_cdr(tmp_path: Path, storage: str) -> None:
    path = tmp_path / "bag"
    with bags.open_writer(path, storage=storage) as writer:
        writer.add_topic("/cmd_vel", TWIST)
        writer.add_topic("/odom", ODOM)
        writer.add_topic("/odom", ODOM)  # idempotent
        for i in range(20):
            odom = serialize_message(make_odom(i))
            assert odom[:4] == CDR_LE_HEADER  # rclpy's bytes carry the header rosbags expects
            writer.write("/odom", odom, 1_000 + 10 * i)
            writer.write("/cmd_vel", serialize_message(make_twist(i)), 1_005 + 10 * i)
        assert writer.counts == {"/cmd_vel": 20, "/odom": 20}
    assert not writer.is_open
    writer.close()  # idempotent
    with pytest.raises(RuntimeError):
        writer.write("/odom", b"", 0)
    with pytest.raises(WriterError):
        bags.open_writer(path)  # never overwrites

    assert bags.bag_summary(path) == {"/cmd_vel": (TWIST, 20), "/odom": (ODOM, 20)}
    msgs = list(bags.read_messages(path))
    assert [m.timestamp_ns for m in msgs] == sorted(m.timestamp_ns for m in msgs)
    assert [m.topic for m in msgs[:4]] == ["/odom", "/cmd_vel", "/odom", "/cmd_vel"]
    odoms = [m for m in msgs if m.topic == "/odom"]
    assert {m.msgtype for m in odoms} == {ODOM}
    for i, m in enumerate(odoms):
        assert m.timestamp_ns == 1_000 + 10 * i
        assert (m.msg.header.stamp.sec, m.msg.header.stamp.nanosec) == (100 + i, 1000 * i)
        assert m.msg.header.frame_id == "odom" and m.msg.child_frame_id == "base_link"
        assert m.msg.pose.pose.position.x == pytest.approx(0.1 * i)
    twists = list(bags.read_messages(path, topics=["/cmd_vel"]))
    assert [m.msg.linear.x for m in twists] == [0.5 * i for i in range(20)]
    assert list(bags.read_messages(path, topics=["/nothing"])) == []

    (storage_file,) = path.glob("*.mcap" if storage == "mcap" else "*.db3")
    assert len(list(bags.read_messages(storage_file))) == 40  # a bare storage file reads too


# -- 2. in-process recorder -------------------------------------------------------------------


@pytest.mark.ros
def test_recorder_records_what_was_sent(ros_context: Any, tmp_path: Path) -> None:
    ns = "/rec"
    n_twist, n_odom = 120, 30
    executor = SingleThreadedExecutor(context=ros_context)
    probe = rclpy.create_node("probe", namespace=ns, context=ros_context)
    # Latched odometry, all published before the recorder exists: only a transient-local
    # subscription (the recorder adapts to its publishers) gets these.
    odom_pub = probe.create_publisher(
        Odometry,
        "odom",
        QoSProfile(
            depth=n_odom,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        ),
    )
    for i in range(n_odom):
        odom_pub.publish(make_odom(i))
    # Depth covers the whole burst, so the publisher never overwrites an unacknowledged sample.
    twist_pub = probe.create_publisher(
        Twist, "cmd_vel", QoSProfile(depth=n_twist, reliability=ReliabilityPolicy.RELIABLE)
    )
    recorder = RecorderNode(
        namespace=ns,
        context=ros_context,
        parameter_overrides=[
            Parameter("topics", value=["cmd_vel", "odom", "never_published"]),
            Parameter("output_dir", value=str(tmp_path / "bag")),
        ],
    )
    executor.add_node(probe)
    executor.add_node(recorder)
    stop = probe.create_client(Trigger, "dodge_recorder/stop")
    start = probe.create_client(Trigger, "dodge_recorder/start")
    try:
        assert spin_until(executor, lambda: twist_pub.get_subscription_count() > 0, 20.0)
        for i in range(n_twist):
            twist_pub.publish(make_twist(i))

        def all_written() -> bool:
            counts = recorder.counts()
            return (
                f"{ns}/cmd_vel" in counts
                and f"{ns}/odom" in counts
                and counts[f"{ns}/cmd_vel"].written == n_twist
                and counts[f"{ns}/odom"].written == n_odom
            )

        assert spin_until(executor, all_written, 20.0), recorder.counts()
        response = call_service(executor, stop, Trigger.Request(), 10.0)
        assert response is not None and response.success, response
        summary = json.loads(response.message)

        # A second bag after stop gets its own directory; stopping twice is reported, not fatal.
        again = call_service(executor, start, Trigger.Request(), 10.0)
        assert again is not None and again.success
        assert json.loads(again.message)["path"] == str(tmp_path / "bag_1")
        assert call_service(executor, stop, Trigger.Request(), 10.0).success
        idle = call_service(executor, stop, Trigger.Request(), 10.0)
        assert not idle.success and idle.message == "not recording"
    finally:
        executor.shutdown()
        recorder.destroy_node()
        probe.destroy_node()

    assert summary == {
        "path": str(tmp_path / "bag"),
        "topics": {
            f"{ns}/cmd_vel": {"received": n_twist, "written": n_twist, "failed": 0},
            f"{ns}/odom": {"received": n_odom, "written": n_odom, "failed": 0},
        },
    }
    records = read_mcap(tmp_path / "bag")
    assert set(records) == {f"{ns}/cmd_vel", f"{ns}/odom"}
    assert len(records[f"{ns}/cmd_vel"]) == n_twist
    assert len(records[f"{ns}/odom"]) == n_odom
    assert_payloads(records[f"{ns}/cmd_vel"], TWIST, Twist, make_twist)
    assert_payloads(records[f"{ns}/odom"], ODOM, Odometry, make_odom)
    # The stamps are receive times on the node clock (wall clock here, no use_sim_time).
    first_stamp = records[f"{ns}/cmd_vel"][0][1]
    assert abs(first_stamp - time.time_ns()) < 120 * 10**9

    # The same bag through the rosbags-based reader the dataset command uses.
    assert bags.bag_summary(tmp_path / "bag") == {
        f"{ns}/cmd_vel": (TWIST, n_twist),
        f"{ns}/odom": (ODOM, n_odom),
    }
    assert bags.bag_summary(tmp_path / "bag_1") == {
        f"{ns}/cmd_vel": (TWIST, 0),
        f"{ns}/odom": (ODOM, 0),
    }


# -- 3. recorder subprocess stopped by SIGINT -------------------------------------------------


@pytest.mark.ros
@pytest.mark.parametrize("sigints", [1, 2])
def test_sigint_leaves_a_complete_bag(ros_context: Any, tmp_path: Path, sigints: int) -> None:
    ns = "/sigint"
    topic = f"{ns}/cmd_vel"
    acked_target, in_flight = 200, 300
    bag = tmp_path / "bag"
    executor = SingleThreadedExecutor(context=ros_context)
    probe = rclpy.create_node("probe", namespace=ns, context=ros_context)
    pub = probe.create_publisher(
        Twist,
        "cmd_vel",
        QoSProfile(depth=acked_target + in_flight, reliability=ReliabilityPolicy.RELIABLE),
    )
    start = probe.create_client(Trigger, "dodge_recorder/start")
    executor.add_node(probe)

    env = dict(os.environ)  # carries this process's ROS_DOMAIN_ID and discovery range
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    log_path = tmp_path / "recorder.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dodge_lstm.ros.nodes.recorder_node",
                "--ros-args",
                "-r",
                f"__ns:={ns}",
                "-p",
                "topics:=[cmd_vel]",
                "-p",
                f"output_dir:={bag}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        assert spin_until(executor, lambda: pub.get_subscription_count() > 0, 30.0), (
            log_path.read_text()
        )
        for i in range(acked_target):
            pub.publish(make_twist(i))
        # ~/start while recording answers with the counts so far: wait for the acknowledgement.
        acked = 0
        deadline = time.monotonic() + 30.0
        while acked < acked_target and time.monotonic() < deadline:
            response = call_service(executor, start, Trigger.Request(), 10.0)
            if response is not None and response.success:
                acked = json.loads(response.message)["topics"].get(topic, {}).get("written", 0)
            if acked < acked_target:
                spin_until(executor, lambda: False, 0.1)
        assert acked == acked_target, log_path.read_text()
        # More messages, some still in flight when the signal lands.
        for i in range(acked_target, acked_target + in_flight):
            pub.publish(make_twist(i))
        proc.send_signal(signal.SIGINT)
        if sigints == 2:
            # As `ros2 launch` plus a Ctrl-C in its terminal do: the second lands mid-shutdown.
            deadline = time.monotonic() + 10.0
            while ("closed " not in log_path.read_text() and proc.poll() is None
                   and time.monotonic() < deadline):
                time.sleep(0.002)
            proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30.0) == 0, log_path.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10.0)
        executor.shutdown()
        probe.destroy_node()

    log_text = log_path.read_text()
    reported = re.search(rf"{re.escape(topic)}: received (\d+) written (\d+) failed 0", log_text)
    assert reported is not None, log_text
    records = read_mcap(bag)
    written = len(records[topic])
    assert written == int(reported.group(2))
    assert acked_target <= written <= acked_target + in_flight
    assert_payloads(records[topic], TWIST, Twist, make_twist)
    assert (bag / "metadata.yaml").is_file()
    assert bags.bag_summary(bag) == {topic: (TWIST, written)}
