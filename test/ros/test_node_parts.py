"""Pieces of the nodes: the shared row builder, bag topic names, refused spawns over DDS."""

import json

import numpy as np
import pytest

pytest.importorskip("rclpy")

from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from ros_helpers import spin_until
from std_msgs.msg import String

from dodge_lstm.bags.bag_dataset import _topic
from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.ros.nodes.sim_node import DodgeSim
from dodge_lstm.ros.qos import EVENT_QOS

pytestmark = pytest.mark.ros


def odom(t_s: float, frame: str, x: float, y: float, vx: float = 0.0, vy: float = 0.0):
    m = Odometry()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(round(t_s * 1e9), 1_000_000_000)
    m.child_frame_id = frame
    m.pose.pose.position.x, m.pose.pose.position.y = x, y
    m.pose.pose.orientation.w = 1.0
    m.twist.twist.linear.x, m.twist.twist.linear.y = vx, vy
    return m


def test_row_builder_propagates_late_balls_and_survives_time_going_back():
    rows = FeatureRowBuilder()
    rows.on_ball(odom(0.0, "ball_0", 0.0, 4.0, 0.0, -4.0))
    assert rows.on_odom(odom(0.0, "base_link", 0.0, 0.0)) is not None
    # the ball's next message is late: the row at 0.1 s still sees it where it is then
    row = rows.on_odom(odom(0.1, "base_link", 0.0, 0.0))
    np.testing.assert_allclose(row[:4], [0.0, 3.6, 0.0, -4.0], atol=1e-6)
    assert rows.on_odom(odom(0.15, "base_link", 0.0, 0.0)) is None  # within the period
    # simulator restart: stamps start over at 0 -> rows resume at once, old balls forgotten
    row = rows.on_odom(odom(0.0, "base_link", 0.0, 0.0))
    assert row is not None and row[1] == 5.0  # placeholder: no ball known after the reset
    assert rows.on_odom(odom(0.1, "base_link", 0.0, 0.0)) is not None


def test_row_builder_rejects_nan_odometry():
    rows = FeatureRowBuilder()
    assert rows.on_odom(odom(0.0, "base_link", float("nan"), 0.0)) is None
    rows.on_ball(odom(0.0, "ball_1", float("inf"), 0.0))
    assert rows.rejected == 1 and rows.tracker.rejected == 1 and len(rows.tracker) == 0


@pytest.mark.parametrize("ns", ["robot1", "/robot1", "/robot1/"])
def test_bag_topic_names_are_fully_qualified(ns):
    assert _topic(ns, "odom") == "/robot1/odom"
    assert _topic("", "balls/odom") == "/balls/odom"


def test_refused_spawn_is_reported_so_the_spawner_can_free_its_slot(ros_context):
    executor = SingleThreadedExecutor(context=ros_context)
    sim = DodgeSim(context=ros_context, parameter_overrides=[
        Parameter("max_balls", value=1), Parameter("real_time_factor", value=5.0)])
    probe = sim.create_publisher(Odometry, "balls/spawn", EVENT_QOS)
    outcomes: list[dict] = []
    sim.create_subscription(String, "balls/outcome", lambda m: outcomes.append(json.loads(m.data)),
                            EVENT_QOS)
    executor.add_node(sim)
    try:
        probe.publish(odom(0.0, "ball_a", 0.0, 4.0, 0.0, -4.0))
        probe.publish(odom(0.0, "ball_b", 0.0, -4.0, 0.0, 4.0))  # no slot left
        probe.publish(odom(0.0, "ball_c", float("nan"), 0.0))  # not finite
        assert spin_until(executor, lambda: len(outcomes) >= 3, 10.0), outcomes
        by_ball = {o["ball"]: o["outcome"] for o in outcomes}
        assert by_ball["ball_b"] == "rejected" and by_ball["ball_c"] == "rejected"
        assert by_ball["ball_a"] in ("hit", "passed")  # it flew, and was resolved
        assert sim.rejected_spawns == 2
    finally:
        executor.shutdown()
        sim.destroy_node()
