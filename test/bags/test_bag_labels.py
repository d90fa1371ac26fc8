"""Labels from a shadow topic: a TwistStamped teacher pairs with rows exactly by stamp.

Bags written here with real CDR bytes (rclpy.serialization) into real MCAP files, no DDS. The
teacher answers arrive late (after the next tick's odom, even out of order), one answer is
never sent and one is NaN: the stamp rule must still give every row the answer to the row
before it, and count the rows it could not label. The receive-time rule, fed the same bag,
gets the late ones wrong: that is why a shadow topic pairs by stamp.
"""

import numpy as np
import pytest

pytest.importorskip("rclpy")

from geometry_msgs.msg import Twist, TwistStamped
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message

from dodge_lstm.bags.bag_dataset import recording_from_bag, recording_from_bags
from dodge_lstm.bags.bag_replay import replay_bag
from dodge_lstm.bags.rosbag_io import open_writer

ODOM = "nav_msgs/msg/Odometry"
TWIST, STAMPED = "geometry_msgs/msg/Twist", "geometry_msgs/msg/TwistStamped"
PERIOD_NS = 100_000_000
TICKS = 30
NEVER_ANSWERED, NAN_ANSWER = 7, 12
LATE = {3: 1, 4: 2, 14: 2, 15: 1}
"""Tick -> how many later odoms reach the recorder before the teacher's answer to it."""


def teacher(k: int) -> float:
    """The teacher's answer to tick k: distinct for every tick, so a shift always shows."""
    return round(0.05 * k - 0.7, 3)


def _stamp(msg, t_ns: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)


def write_label_bag(path, label_topic="/expert/cmd_vel", label_type=STAMPED,
                    driver_type=TWIST, ticks=TICKS):
    """odom each tick, the driver's cmd_vel right after it, the teacher's answers with delays."""
    pending: list[tuple[int, int]] = []  # (odoms still to pass, tick answered)
    recv = 1_000_000_000
    with open_writer(path) as bag:
        bag.add_topic("/odom", ODOM)
        bag.add_topic("/cmd_vel", driver_type)
        bag.add_topic(label_topic, label_type)

        def write(topic, msg):
            nonlocal recv
            bag.write(topic, serialize_message(msg), recv)
            recv += 1_000_000

        for k in range(ticks):
            t = k * PERIOD_NS
            odom = Odometry()
            _stamp(odom, t)
            odom.header.frame_id, odom.child_frame_id = "odom", "base_link"
            odom.pose.pose.orientation.w = 1.0
            write("/odom", odom)
            # Late answers whose delay ran out arrive now, newest first (out of order).
            due = sorted((j for n, j in pending if n == 1), reverse=True)
            pending = [(n - 1, j) for n, j in pending if n > 1]
            for j in due:
                write(label_topic, label_msg(j, label_type))
            drv = TwistStamped() if driver_type == STAMPED else Twist()
            (drv.twist if driver_type == STAMPED else drv).linear.x = -teacher(k)
            if driver_type == STAMPED:
                _stamp(drv, t + 3_000_000)  # the policy stamps with its clock, not the tick
            write("/cmd_vel", drv)
            if k != NEVER_ANSWERED:
                if k in LATE:
                    pending.append((LATE[k], k))
                else:
                    write(label_topic, label_msg(k, label_type))
            recv += PERIOD_NS
    return path


def label_msg(k: int, label_type: str):
    value = float("nan") if k == NAN_ANSWER else teacher(k)
    if label_type == STAMPED:
        msg = TwistStamped()
        _stamp(msg, k * PERIOD_NS)
        msg.twist.linear.x = value
    else:
        msg = Twist()
        msg.linear.x = value
    return msg


def expected_by_stamp(ticks=TICKS) -> np.ndarray:
    """Row t: the teacher's answer to row t-1; without one, row t-1's label stays."""
    out = np.zeros(ticks, dtype=np.float32)
    for t in range(1, ticks):
        prev = t - 1
        out[t] = out[t - 1] if prev in (NEVER_ANSWERED, NAN_ANSWER) else teacher(prev)
    return out


def test_stamped_labels_pair_with_the_previous_row_exactly(tmp_path):
    rec = recording_from_bag(write_label_bag(tmp_path / "bag"), label_topic="expert/cmd_vel")
    assert rec.features.shape[0] == TICKS
    np.testing.assert_array_equal(rec.commands, expected_by_stamp())
    assert rec.meta["label_topic"] == "/expert/cmd_vel"
    assert rec.meta["label_pairing"] == "stamp"
    assert rec.meta["missing_labels"] == 2  # never answered + NaN (rejected, counted)
    assert rec.meta["rejected_messages"] == 1
    # Same bag, receive-time rule: the late answers land on the wrong rows.
    replay = replay_bag(tmp_path / "bag", command_topic="expert/cmd_vel")
    recv_rows = np.array([e.recv_ns for e in replay.events])
    by_receipt = replay.commands_in_force(recv_rows)
    wrong = np.flatnonzero(by_receipt != expected_by_stamp())
    assert {4, 5, 15, 16} <= set(wrong.tolist()), wrong


def test_driver_commands_are_not_the_labels(tmp_path):
    """The default label topic is still the driver's cmd_vel (receive time), and it is not the
    teacher's: reading the wrong topic would show."""
    bag = write_label_bag(tmp_path / "bag")
    driver = recording_from_bag(bag)
    assert driver.meta["label_topic"] == "/cmd_vel" and driver.meta["missing_labels"] == 0
    np.testing.assert_allclose(driver.commands[1:], [-teacher(k) for k in range(TICKS - 1)],
                               atol=1e-6)


def test_stamped_driver_cmd_vel_keeps_the_receive_time_rule(tmp_path):
    """The policy stamps cmd_vel with its clock, not the tick it answers: never pair it by
    stamp (here its stamps match no odom at all)."""
    bag = write_label_bag(tmp_path / "bag", driver_type=STAMPED)
    rec = recording_from_bag(bag)
    assert rec.meta["label_pairing"] == "receive_time"
    np.testing.assert_allclose(rec.commands[1:], [-teacher(k) for k in range(TICKS - 1)],
                               atol=1e-6)


def test_plain_twist_label_topic_falls_back_to_receive_time(tmp_path):
    bag = write_label_bag(tmp_path / "bag", label_topic="/teacher/cmd_vel", label_type=TWIST)
    rec = recording_from_bag(bag, label_topic="teacher/cmd_vel")
    assert rec.meta["label_pairing"] == "receive_time" and rec.meta["missing_labels"] == 0
    replay = replay_bag(bag, command_topic="teacher/cmd_vel")
    np.testing.assert_array_equal(
        rec.commands, replay.commands_in_force(np.array([e.recv_ns for e in replay.events])))


def test_label_topic_resolves_like_the_nodes_names(tmp_path):
    bag = write_label_bag(tmp_path / "bag", label_topic="/robot1/expert/cmd_vel")
    with pytest.raises(ValueError, match="no messages on /robot1/odom"):  # namespaced
        recording_from_bag(bag, namespace="robot1", label_topic="expert/cmd_vel")
    rec = recording_from_bag(bag, label_topic="/robot1/expert/cmd_vel")  # absolute: as given
    np.testing.assert_array_equal(rec.commands, expected_by_stamp())


def test_a_bag_without_the_label_topic_is_a_clear_error(tmp_path):
    bag = write_label_bag(tmp_path / "bag")
    with pytest.raises(ValueError) as err:
        recording_from_bag(bag, label_topic="expert/cmd_vell")
    text = str(err.value)
    assert "/expert/cmd_vell" in text and str(bag) in text
    for topic in ("/odom", "/cmd_vel", "/expert/cmd_vel"):
        assert topic in text


def test_missing_labels_add_up_over_bags(tmp_path):
    bags = [write_label_bag(tmp_path / "a"), write_label_bag(tmp_path / "b", ticks=20)]
    rec = recording_from_bags(bags, label_topic="expert/cmd_vel")
    assert rec.meta["missing_labels"] == 4 and rec.meta["rejected_messages"] == 2
    np.testing.assert_array_equal(rec.commands[:TICKS], expected_by_stamp())
    np.testing.assert_array_equal(rec.commands[TICKS:], expected_by_stamp(20))
