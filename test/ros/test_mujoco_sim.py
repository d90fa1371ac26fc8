"""The `mujoco_sim` node over DDS: dodge_sim's interface on MuJoCo physics (issue 17).

Plausible bugs each test catches:
- a MuJoCo node that reports outcomes by the arena's geometric rule, or never reports a contact
  as a hit (a ball rolling through the robot counted as passed); a hit is what MuJoCo's contact
  sensor saw, and only physics shoves the robot, so the test asks for both;
- a node that drops `angular.z` (the embedded simulator's 1-D robot) or ignores the actuator
  limits (a robot at full speed in one tick);
- a NaN in `angular.z` turned into a motor command.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("mujoco")

import rclpy
from geometry_msgs.msg import Twist, Vector3
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from ros_helpers import spin_until
from std_msgs.msg import String

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.odometry import stamp_ns, yaw_from_quaternion
from dodge_lstm.core.outcomes import decode_outcome
from dodge_lstm.physics.mjcf_world import BodyConfig
from dodge_lstm.ros.nodes.mujoco_sim_node import MujocoSim
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS, STATE_QOS

pytestmark = pytest.mark.ros


class Probe:
    """A MuJoCo simulator (4x real time, no /clock) and a node that talks to it."""

    def __init__(self, context) -> None:
        self.executor = SingleThreadedExecutor(context=context)
        self.sim = MujocoSim(context=context, parameter_overrides=[
            Parameter("real_time_factor", value=4.0), Parameter("publish_clock", value=False),
            Parameter("cmd_timeout", value=10.0)])
        self.node = rclpy.create_node("mujoco_probe", context=context)
        self.cmd = self.node.create_publisher(Twist, "cmd_vel", CMD_QOS)
        self.spawn = self.node.create_publisher(Odometry, "balls/spawn", EVENT_QOS)
        self.odoms: list[Odometry] = []
        self.outcomes: list[dict] = []
        self.node.create_subscription(Odometry, "odom", self.odoms.append, STATE_QOS)
        self.node.create_subscription(String, "balls/outcome",
                                      lambda m: self.outcomes.append(decode_outcome(m.data)),
                                      EVENT_QOS)
        self.executor.add_node(self.sim)
        self.executor.add_node(self.node)
        assert spin_until(self.executor, lambda: self.cmd.get_subscription_count() > 0
                          and self.spawn.get_subscription_count() > 0 and self.odoms, 10.0)

    def throw(self, name: str, pos: tuple[float, float], vel: tuple[float, float]) -> None:
        m = Odometry()
        m.header.stamp = self.odoms[-1].header.stamp
        m.header.frame_id, m.child_frame_id = "odom", name
        m.pose.pose.position.x, m.pose.pose.position.y = pos
        m.pose.pose.orientation.w = 1.0
        m.twist.twist.linear.x, m.twist.twist.linear.y = vel
        self.spawn.publish(m)

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.sim.destroy_node()


@pytest.fixture
def probe(ros_context):
    p = Probe(ros_context)
    yield p
    p.close()


def xy(m: Odometry) -> np.ndarray:
    return np.array([m.pose.pose.position.x, m.pose.pose.position.y])


def test_a_contact_in_mujoco_is_reported_as_a_hit_and_shoves_the_robot(probe):
    """A ball rolled straight at the idle robot: `balls/outcome` says `hit` (MuJoCo's contact
    sensor), and the robot, commanded to stand still, has been pushed along the ball's path;
    a ball rolled 1.5 m wide of it afterwards is `passed`."""
    start = xy(probe.odoms[-1])
    probe.throw("ball_straight", (3.0, 0.0), (-4.0, 0.0))
    assert spin_until(probe.executor, lambda: probe.outcomes, 10.0)
    first = probe.outcomes[0]
    assert (first["ball"], first["outcome"], first["threat"]) == ("ball_straight", "hit", True)
    # Let the shove play out: the robot ends up behind where it stood, along -x.
    t_hit = stamp_ns(probe.odoms[-1])
    assert spin_until(probe.executor,
                      lambda: stamp_ns(probe.odoms[-1]) - t_hit > 1_000_000_000, 10.0)
    moved = xy(probe.odoms[-1]) - start
    assert moved[0] < -0.05, moved  # pushed by 1 kg at 4 m/s; a kinematic robot stays put
    probe.throw("ball_wide", (xy(probe.odoms[-1])[0] + 3.0, 1.5), (-4.0, 0.0))
    assert spin_until(probe.executor, lambda: len(probe.outcomes) >= 2, 10.0)
    second = probe.outcomes[1]
    assert (second["ball"], second["outcome"], second["threat"]) == ("ball_wide", "passed",
                                                                     False)


def test_commanded_speed_is_reached_within_the_actuator_limits_and_angular_z_turns(probe):
    """cmd_vel 0.8 m/s: odom's forward speed gets there in ~0.5 s, never faster than the wheel
    torque allows (2 m/s^2, with 5% for contact transients); then angular.z 1 rad/s turns the
    robot left (yaw grows, odom's angular.z is positive)."""
    cfg, body = ArenaConfig(), BodyConfig()
    probe.cmd.publish(Twist(linear=Vector3(x=0.8)))
    first = len(probe.odoms)
    assert spin_until(probe.executor, lambda: len(probe.odoms) - first >= 12, 10.0)
    speeds = [(stamp_ns(m) * 1e-9, m.twist.twist.linear.x) for m in probe.odoms[first:]]
    assert speeds[-1][1] == pytest.approx(0.8, abs=0.02), speeds
    reached = next(t for t, v in speeds if v >= 0.78) - speeds[0][0]
    assert reached <= 0.8, speeds
    accel = np.diff([v for _, v in speeds]) / cfg.dt
    assert accel.max() <= cfg.accel_limit * 1.05, accel
    assert body.wheel_torque_limit(cfg) > 0

    yaw0 = yaw_from_quaternion(probe.odoms[-1].pose.pose.orientation)
    probe.cmd.publish(Twist(linear=Vector3(x=0.3), angular=Vector3(z=1.0)))
    mark = len(probe.odoms)
    assert spin_until(probe.executor, lambda: len(probe.odoms) - mark >= 10, 10.0)
    yaw1 = yaw_from_quaternion(probe.odoms[-1].pose.pose.orientation)
    turned = math.remainder(yaw1 - yaw0, 2 * math.pi)
    assert 0.4 < turned < 1.2, turned  # ~1 rad/s for ~1 s, less the wheels' spin-up
    assert probe.odoms[-1].twist.twist.angular.z > 0.5


def test_a_nan_angular_z_is_rejected_and_counted(probe):
    """A command whose angular.z is NaN never reaches the wheels: the robot keeps the last good
    command and the simulator counts the rejection."""
    probe.cmd.publish(Twist(linear=Vector3(x=0.5)))
    assert spin_until(probe.executor,
                      lambda: probe.odoms[-1].twist.twist.linear.x > 0.45, 10.0)
    probe.cmd.publish(Twist(linear=Vector3(x=-0.5), angular=Vector3(z=math.nan)))
    assert spin_until(probe.executor, lambda: probe.sim.rejected_cmds == 1, 5.0)
    mark = len(probe.odoms)
    assert spin_until(probe.executor, lambda: len(probe.odoms) - mark >= 5, 10.0)
    assert all(m.twist.twist.linear.x > 0.45 for m in probe.odoms[mark:])
    assert all(np.isfinite(xy(m)).all() for m in probe.odoms)
