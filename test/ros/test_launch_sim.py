"""launch_testing: `sim.launch.py` brings up a graph whose policy drives at 10 Hz.

Runs under `colcon test` / `launch_test` where ROS 2 (launch, launch_ros, launch_testing) is
installed. Those are not installable from PyPI, so on pip-only machines this module is skipped
with the reason; `test_graph.py` covers the same graph through `dodge-lstm sim`'s bringup.
"""

import time
import unittest

import pytest

pytest.importorskip("launch_testing",
                    reason="launch_testing is not installed (needs a ROS 2 distro)")
pytest.importorskip("launch_ros", reason="launch_ros is not installed (needs a ROS 2 distro)")
# EnableRmwIsolation arrived with Kilted; on an older distro skip instead of a collection
# error that would abort the whole pytest session.
pytest.importorskip("launch_testing_ros.actions.enable_rmw_isolation",
                    reason="launch_testing_ros has no EnableRmwIsolation (needs ROS 2 Kilted+)")

import launch_testing
import launch_testing.actions
import launch_testing.asserts
import rclpy
from geometry_msgs.msg import Twist
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare
from launch_testing_ros.actions import EnableRmwIsolation
from lifecycle_msgs.srv import GetState

import launch


@pytest.mark.launch_test
def generate_test_description():
    """The package's sim.launch.py with defaults, in an isolated RMW."""
    sim = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("dodge_lstm"), "launch", "sim.launch.py"])),
        launch_arguments={"timesteps": "5", "units": "15"}.items())
    return launch.LaunchDescription([
        EnableRmwIsolation(),
        sim,
        launch_testing.actions.ReadyToTest(),
    ])


class TestSimGraph(unittest.TestCase):
    """While the graph runs."""

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node("sim_launch_probe")

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_policy_becomes_active(self):
        client = self.node.create_client(GetState, "dodge_policy/get_state")
        self.assertTrue(client.wait_for_service(timeout_sec=30.0))
        deadline = time.monotonic() + 30.0
        label = ""
        while time.monotonic() < deadline and label != "active":
            future = client.call_async(GetState.Request())
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=5.0)
            label = future.result().current_state.label if future.done() else ""
        self.assertEqual(label, "active")

    def test_cmd_vel_at_10_hz(self):
        stamps = []
        self.node.create_subscription(Twist, "cmd_vel",
                                      lambda _msg: stamps.append(time.monotonic()), 10)
        deadline = time.monotonic() + 40.0
        while time.monotonic() < deadline and len(stamps) < 101:
            rclpy.spin_once(self.node, timeout_sec=0.1)
        self.assertGreaterEqual(len(stamps), 101)
        rate = 100 / (stamps[100] - stamps[0])
        self.assertAlmostEqual(rate, 10.0, delta=0.5)


@launch_testing.post_shutdown_test()
class TestSimShutdown(unittest.TestCase):
    """After the graph is stopped."""

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)
