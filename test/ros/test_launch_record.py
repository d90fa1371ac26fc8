"""launch_testing: `record.launch.py` records the expert's demonstrations to a readable bag.

Runs under `colcon test` / `launch_test` where ROS 2 (launch, launch_ros, launch_testing) is
installed; skipped with the reason on pip-only machines (`test_recorder.py` and `test_graph.py`
record through the same nodes there).
"""

import tempfile
import time
import unittest
from pathlib import Path

import pytest

pytest.importorskip("launch_testing",
                    reason="launch_testing is not installed (needs a ROS 2 distro)")
pytest.importorskip("launch_ros", reason="launch_ros is not installed (needs a ROS 2 distro)")

import launch_testing
import launch_testing.actions
import launch_testing.asserts
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import PathJoinSubstitution
from launch_ros.substitutions import FindPackageShare
from launch_testing_ros.actions import EnableRmwIsolation

import launch

BAG = Path(tempfile.mkdtemp(prefix="dodge_record_launch_")) / "bag"


@pytest.mark.launch_test
def generate_test_description():
    """record.launch.py with the expert, stopped after 8 s."""
    record = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(
            PathJoinSubstitution([FindPackageShare("dodge_lstm"), "launch",
                                  "record.launch.py"])),
        launch_arguments={"driver": "expert", "output_dir": str(BAG)}.items())
    return launch.LaunchDescription([
        EnableRmwIsolation(),
        record,
        launch.actions.TimerAction(period=8.0, actions=[
            launch.actions.EmitEvent(event=launch.events.Shutdown(reason="recorded 8 s"))]),
        launch_testing.actions.ReadyToTest(),
    ])


class TestRecording(unittest.TestCase):
    """While recording."""

    def test_bag_appears(self, proc_output):
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and not BAG.exists():
            time.sleep(0.2)  # waiting on the filesystem, not on ROS: nothing to spin
        self.assertTrue(BAG.exists())


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
        self.assertGreater(counts.get("/odom", 0), 40)
        self.assertGreater(counts.get("/cmd_vel", 0), 40)
        self.assertGreater(counts.get("/balls/odom", 0), 10)
