"""Pieces of the nodes: the shared row builder, bag topic names, refused spawns over DDS, and
the physics parameters the expert and the simulator declare from ArenaConfig."""

import json
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from geometry_msgs.msg import Twist, Vector3
from nav_msgs.msg import Odometry
from rcl_interfaces.srv import GetParameters
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from ros_helpers import call_service, spin_until
from std_msgs.msg import String

from dodge_lstm.bags.bag_replay import qualified
from dodge_lstm.core.config import ArenaConfig, field_docs
from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.resources import default_params_file
from dodge_lstm.ros.nodes.expert_node import ARENA_FIELDS, ExpertDriver
from dodge_lstm.ros.nodes.sim_node import DodgeSim
from dodge_lstm.ros.parameters import declare_config
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS

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
    assert qualified(ns, "odom") == "/robot1/odom"
    assert qualified("", "balls/odom") == "/balls/odom"


def test_refused_spawn_is_reported_so_the_spawner_can_free_its_slot(ros_context):
    executor = SingleThreadedExecutor(context=ros_context)
    sim = DodgeSim(context=ros_context, parameter_overrides=[
        Parameter("max_balls", value=1), Parameter("real_time_factor", value=5.0)])
    probe = sim.create_publisher(Odometry, "balls/spawn", EVENT_QOS)
    cmd_probe = sim.create_publisher(Twist, "cmd_vel", CMD_QOS)
    warnings: list[str] = []
    sim.get_logger().warning = lambda msg, **kw: warnings.append(msg)  # capture the log lines
    outcomes: list[dict] = []
    sim.create_subscription(String, "balls/outcome", lambda m: outcomes.append(json.loads(m.data)),
                            EVENT_QOS)
    executor.add_node(sim)
    try:
        probe.publish(odom(0.0, "ball_a", 0.0, 4.0, 0.0, -4.0))
        probe.publish(odom(0.0, "ball_b", 0.0, -4.0, 0.0, 4.0))  # no slot left
        probe.publish(odom(0.0, "ball_c", float("nan"), 0.0))  # not finite
        cmd_probe.publish(Twist(linear=Vector3(x=float("nan"))))
        assert spin_until(executor, lambda: len(outcomes) >= 3, 10.0), outcomes
        by_ball = {o["ball"]: o["outcome"] for o in outcomes}
        assert by_ball["ball_b"] == "rejected" and by_ball["ball_c"] == "rejected"
        assert by_ball["ball_a"] in ("hit", "passed")  # it flew, and was resolved
        assert sim.rejected_spawns == 2
        # Counted and said, with the running count.
        assert spin_until(executor, lambda: sim.rejected_cmds == 1, 5.0)
        assert "non-finite cmd_vel rejected (1 so far)" in warnings
        assert any(w.startswith("spawn of ball_c rejected") and w.endswith("(2 so far)")
                   for w in warnings), warnings
    finally:
        executor.shutdown()
        sim.destroy_node()


def test_expert_declares_its_arena_fields_from_the_dataclass(ros_context):
    expert = ExpertDriver(context=ros_context)
    try:
        docs, defaults = field_docs(ArenaConfig), ArenaConfig()
        declared = set(expert.list_parameters([], 0).names) - {
            "use_sim_time", "start_type_description_service"}  # every rclpy node has these
        assert declared == {*ARENA_FIELDS, "ball_timeout", "stamped"}
        for name in ARENA_FIELDS:
            assert expert.get_parameter(name).value == getattr(defaults, name)
            assert expert.describe_parameter(name).description == docs[name]
        assert expert.arena_cfg == defaults
        with pytest.raises(ValueError, match="no fields"):
            declare_config(expert, ArenaConfig(), names=["speed_limt"])
    finally:
        expert.destroy_node()


def edited_params_file(tmp_path: Path) -> Path:
    """The package's params file with speed_limit 0.8 under `/**` and ball_radius 0.25 in the
    dodge_sim section (after the wildcard)."""
    params = tmp_path / "params.yaml"
    params.write_text(default_params_file().read_text()
                      .replace("speed_limit: 1.0", "speed_limit: 0.8")
                      .replace("    control_rate_hz: 10.0", "    control_rate_hz: 10.0\n"
                               "    ball_radius: 0.25"))
    return params


def test_shared_physics_reach_sim_and_expert_from_the_params_file(tmp_path):
    """The package's params file sets the arena physics once under `/**`; nodes sharing one
    context initialised with it (as `dodge-lstm sim` runs them) both take them, and a node's
    own section still wins over the wildcard."""
    params = edited_params_file(tmp_path)
    context = Context()
    rclpy.init(args=["--ros-args", "--params-file", str(params)], context=context)
    try:
        sim, expert = DodgeSim(context=context), ExpertDriver(context=context)
        assert sim.cfg.speed_limit == expert.arena_cfg.speed_limit == 0.8
        assert sim.cfg.ball_radius == 0.25  # its own section
        assert expert.arena_cfg.ball_radius == ArenaConfig().ball_radius  # the wildcard's
        sim.destroy_node()
        expert.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)


def test_shared_physics_reach_an_expert_process_from_the_params_file(ros_context, tmp_path):
    """`/**` also reaches a node run as its own process (as `ros2 launch` starts them)."""
    cmd = [sys.executable, "-m", "dodge_lstm.ros.nodes.expert_node", "--ros-args",
           "--params-file", str(edited_params_file(tmp_path))]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    executor = SingleThreadedExecutor(context=ros_context)
    probe = rclpy.create_node("params_probe", context=ros_context)
    executor.add_node(probe)
    client = probe.create_client(GetParameters, "expert_driver/get_parameters")
    try:
        names = ["speed_limit", "ball_radius"]
        response = call_service(executor, client, GetParameters.Request(names=names), 30.0)
        assert response is not None, proc.poll()
        assert [v.double_value for v in response.values] == [0.8, ArenaConfig().ball_radius]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10.0) == 0, proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10.0)
        executor.shutdown()
        probe.destroy_node()
