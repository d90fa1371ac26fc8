"""Bags -> datasets: rows from the node's row builder, labels aligned by receive time.

Bags are written here with real CDR bytes (rclpy.serialization) into real MCAP and sqlite3
files; no DDS needed. The scenario deliberately records the robot's `odom` *before* the balls
of the same tick and the outcome late, as a recorder with separate subscriptions may.
"""

import numpy as np
import pytest

pytest.importorskip("rclpy")

from geometry_msgs.msg import Twist
from nav_msgs.msg import Odometry
from rclpy.serialization import serialize_message

from dodge_lstm.bags.bag_dataset import recording_from_bag, recording_from_bags
from dodge_lstm.bags.rosbag_io import open_writer
from dodge_lstm.cli import main as cli_main
from dodge_lstm.core.arena import Arena
from dodge_lstm.core.config import SpawnConfig
from dodge_lstm.core.dataset import Recording
from dodge_lstm.core.features import PLACEHOLDER, ball_features
from dodge_lstm.ros.messages import outcome_to_msg, quaternion_from_yaw

ODOM, TWIST, STRING = "nav_msgs/msg/Odometry", "geometry_msgs/msg/Twist", "std_msgs/msg/String"


def odom(t_ns, frame, x, y, vx, vy, yaw=0.0):
    m = Odometry()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(t_ns, 1_000_000_000)
    m.header.frame_id = "odom"
    m.child_frame_id = frame
    m.pose.pose.position.x, m.pose.pose.position.y = float(x), float(y)
    m.pose.pose.orientation = quaternion_from_yaw(yaw)
    m.twist.twist.linear.x, m.twist.twist.linear.y = float(vx), float(vy)
    return m


def record_episode(path, storage="mcap", ticks=40, nan_at=None):
    """Drive a real arena with known commands and write what the simulator would publish."""
    arena = Arena(1, spawn=SpawnConfig(num_balls=2), seed=5, robot_yaw=0.4)
    cmds = np.sin(np.arange(ticks) / 5.0)
    truth = []
    wall = 1_000_000_000  # receive clock (wall): strictly increasing
    with open_writer(path, storage=storage) as bag:
        for topic, typ in (("/odom", ODOM), ("/balls/odom", ODOM), ("/cmd_vel", TWIST),
                           ("/balls/outcome", STRING)):
            bag.add_topic(topic, typ)
        outcomes = []
        for k in range(ticks):
            t = round(k * 0.1 * 1e9)
            r, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel,
                                 arena.ball_pos, arena.ball_vel, arena.alive, arena.ball_id)
            truth.append(r[0])
            # robot first, then balls, then last tick's outcomes: the worst order
            yaw = float(arena.robot_yaw[0])
            v = arena.robot_speed[0]
            bag.write("/odom", serialize_message(
                odom(t, "base_link", *arena.robot_pos[0], v, 0.0, yaw)), wall)
            wall += 1_000_000
            for s in np.flatnonzero(arena.alive[0]):
                bag.write("/balls/odom", serialize_message(odom(
                    t, f"ball_{arena.ball_id[0, s]}", *arena.ball_pos[0, s],
                    *arena.ball_vel[0, s])), wall)
                wall += 1_000_000
            for msg in outcomes:
                bag.write("/balls/outcome", serialize_message(msg), wall)
                wall += 1_000_000
            cmd = Twist()
            cmd.linear.x = float("nan") if k == nan_at else float(cmds[k])
            bag.write("/cmd_vel", serialize_message(cmd), wall)  # answer to this tick
            wall += 90_000_000
            out = arena.step(np.array([cmds[k]]))
            outcomes = [outcome_to_msg(f"ball_{b}", "hit" if h else "passed", bool(th),
                                       (k + 1) * 0.1)
                        for b, h, th in zip(out.ball_id, out.hit, out.threat)]
    return np.array(truth), cmds


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_rows_match_the_arena(tmp_path, storage):
    truth, cmds = record_episode(tmp_path / "bag", storage)
    rec = recording_from_bag(tmp_path / "bag")
    assert rec.features.shape == truth.shape
    np.testing.assert_allclose(rec.features, truth, atol=1e-4)
    # command in force at row k is the one answered to row k-1
    np.testing.assert_allclose(rec.commands[1:], cmds[:-1], atol=1e-6)
    assert rec.commands[0] == 0.0
    assert (rec.features[:, 4:] != np.asarray(PLACEHOLDER, np.float32)).any()  # 2 balls seen


def test_nan_command_is_rejected_not_used(tmp_path):
    _, cmds = record_episode(tmp_path / "bag", nan_at=10)
    rec = recording_from_bag(tmp_path / "bag")
    assert np.isfinite(rec.commands).all()
    assert rec.commands[11] == pytest.approx(cmds[9])  # the previous command stays in force
    assert rec.meta["rejected_messages"] == 1


def test_several_bags_are_separate_episodes_and_cli(tmp_path):
    record_episode(tmp_path / "a", ticks=20)
    record_episode(tmp_path / "b", ticks=25)
    rec = recording_from_bags([tmp_path / "a", tmp_path / "b"])
    assert rec.features.shape[0] == 45 and sorted(set(rec.episode.tolist())) == [0, 1]
    assert cli_main(["dataset", "--bag", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                     str(tmp_path / "d.npz")]) == 0
    back = Recording.load(tmp_path / "d.npz")
    assert len(back.meta["bags"]) == 2 and back.features.shape == (45, 8)
    # --slots reaches the bag import: four slots, the two extra ones empty placeholders.
    assert cli_main(["dataset", "--bag", str(tmp_path / "a"), "--slots", "4", "--out",
                     str(tmp_path / "d4.npz")]) == 0
    four = Recording.load(tmp_path / "d4.npz")
    assert four.features.shape == (20, 16) and four.meta["num_slots"] == 4
    np.testing.assert_array_equal(four.features[:, :8], back.features[:20])


def test_bag_without_odom_is_a_clear_error(tmp_path):
    with open_writer(tmp_path / "empty") as bag:
        bag.add_topic("/cmd_vel", TWIST)
        bag.write("/cmd_vel", serialize_message(Twist()), 1)
    with pytest.raises(ValueError, match="no messages on /odom"):
        recording_from_bag(tmp_path / "empty")
