"""launch_testing: `record.launch.py` records the expert's demonstrations to a readable bag.

Runs under `colcon test` / `launch_test` where ROS 2 (launch, launch_ros, launch_testing) is
installed; skipped with the reason on pip-only machines (`test_recorder.py` and `test_graph.py`
record through the same nodes there).
"""

import json
import tempfile
import time
import unittest
from pathlib import Path

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
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare
from launch_testing_ros.actions import EnableRmwIsolation
from std_srvs.srv import Trigger

import launch

BAG = Path(tempfile.mkdtemp(prefix="dodge_record_launch_")) / "bag"
# What the post-shutdown test expects in the bag; the active test waits until the recorder
# reports at least this much written, because launch_testing shuts the launch down as soon as
# the active tests return (a test that only waited for the bag directory closed a nearly empty
# bag, ~1 s in).
MIN_WRITTEN = {"/odom": 60, "/cmd_vel": 60, "/balls/odom": 20}
RECORD_TIMEOUT_S = 60.0


@pytest.mark.launch_test
def generate_test_description():
    """record.launch.py with the expert; the active test decides when enough is recorded."""
    record = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("dodge_lstm"), "launch",
                                  "record.launch.py"])),
        launch_arguments={"driver": "expert", "output_dir": str(BAG)}.items())
    return launch.LaunchDescription([
        EnableRmwIsolation(),
        record,
        launch_testing.actions.ReadyToTest(),
    ])


class TestRecording(unittest.TestCase):
    """While recording: poll the recorder's status (`~/start` answers with the counts so far)
    until it has written what the post-shutdown test reads back, bounded."""

    @classmethod
    def setUpClass(cls):
        rclpy.init()
        cls.node = rclpy.create_node("record_launch_probe")

    @classmethod
    def tearDownClass(cls):
        cls.node.destroy_node()
        rclpy.shutdown()

    def test_recorder_writes_the_graph(self):
        client = self.node.create_client(Trigger, "dodge_recorder/start")
        self.assertTrue(client.wait_for_service(timeout_sec=30.0))
        deadline = time.monotonic() + RECORD_TIMEOUT_S
        written: dict[str, int] = {}
        while time.monotonic() < deadline:
            future = client.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=5.0)
            if future.done() and future.result().success:
                status = json.loads(future.result().message)
                self.assertEqual(status["path"], str(BAG))
                written = {t: c["written"] for t, c in status["topics"].items()}
                if all(written.get(t, 0) >= n for t, n in MIN_WRITTEN.items()):
                    break
            rclpy.spin_once(self.node, timeout_sec=1.0)  # ~1 s between status queries
        for topic, n in MIN_WRITTEN.items():
            self.assertGreaterEqual(written.get(topic, 0), n, written)


@launch_testing.post_shutdown_test()
class TestRecordingAfterShutdown(unittest.TestCase):
    """After shutdown the bag is complete and holds the expected topics."""

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_bag_readable(self):
        from dodge_lstm.bags.rosbag_io import read_messages

        counts: dict[str, int] = {}
        for topic, *_ in read_messages(BAG):
            counts[topic] = counts.get(topic, 0) + 1
        for topic, n in MIN_WRITTEN.items():
            self.assertGreaterEqual(counts.get(topic, 0), n, counts)
