"""launch_testing: the launch files record where `output_dir` says, and a label run trains.

Two launches: `record.launch.py` with the expert driving, and `sim.launch.py label:=expert
record:=true` (DAgger through ROS: the LSTM drives, a shadow expert answers on
`expert/cmd_vel`). Each must write its bag into `output_dir` (the bug: the directory ignored,
the bag in `./dodge_bag_<stamp>`), and the label run's bag must hold `expert/cmd_vel` and turn
into a dataset with `--label-topic expert/cmd_vel` (the bug: a recorder that never got the label
topic, so the README's ROS DAgger recipe failed).

Runs under `colcon test` / `launch_test` where ROS 2 (launch, launch_ros, launch_testing) is
installed; skipped with the reason on pip-only machines (`test_recorder.py`, `test_graph.py`
and `test_shadow_labels.py` record through the same nodes there, and `test_one_source.py` holds
the launch arguments to `dodge-lstm sim`'s flags).
"""

import json
import sys
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
from launch_testing_ros.actions import EnableRmwIsolation
from std_srvs.srv import Trigger

import launch
from dodge_lstm.resources import share_dir

# The launch tests' shared helper, by path: `launch_test` runs this file without the conftest.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from launch_helpers import stop_one_at_a_time

ROOT = Path(tempfile.mkdtemp(prefix="dodge_record_launch_"))
LABEL_TOPIC = "/expert/cmd_vel"
RUNS = {
    "record": ("record.launch.py", {"driver": "expert", "output_dir": str(ROOT / "record")},
               {"/odom": 60, "/cmd_vel": 60, "/balls/odom": 20}),
    "label": ("sim.launch.py", {"label": "expert", "record": "true",
                                "output_dir": str(ROOT / "nested" / "label")},
              {"/odom": 60, "/cmd_vel": 60, "/balls/odom": 20, LABEL_TOPIC: 60}),
}
# launch_testing shuts the launch down as soon as the active tests return: the active test
# waits until the recorder reports at least this much written (a test that only waited for the
# bag directory closed a nearly empty bag, ~1 s in).
RECORD_TIMEOUT_S = 60.0


@pytest.mark.launch_test
@launch_testing.parametrize("run", list(RUNS))
def generate_test_description(run):
    """A recording launch; the active test decides when enough is recorded."""
    launch_file, arguments, _ = RUNS[run]
    record = launch.actions.IncludeLaunchDescription(
        PythonLaunchDescriptionSource(str(share_dir() / "launch" / launch_file)),
        launch_arguments=arguments.items())
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

    def test_recorder_writes_into_output_dir(self, run, proc_info):
        _, arguments, minimum = RUNS[run]
        client = self.node.create_client(Trigger, "dodge_recorder/start")
        self.assertTrue(client.wait_for_service(timeout_sec=30.0))
        deadline = time.monotonic() + RECORD_TIMEOUT_S
        written: dict[str, int] = {}
        while time.monotonic() < deadline:
            future = client.call_async(Trigger.Request())
            rclpy.spin_until_future_complete(self.node, future, timeout_sec=5.0)
            if future.done() and future.result().success:
                status = json.loads(future.result().message)
                self.assertEqual(status["path"], arguments["output_dir"])
                written = {t: c["written"] for t, c in status["topics"].items()}
                if all(written.get(t, 0) >= n for t, n in minimum.items()):
                    break
            rclpy.spin_once(self.node, timeout_sec=1.0)  # ~1 s between status queries
        for topic, n in minimum.items():
            self.assertGreaterEqual(written.get(topic, 0), n, written)
        stop_one_at_a_time(proc_info)


@launch_testing.post_shutdown_test()
class TestRecordingAfterShutdown(unittest.TestCase):
    """After shutdown the bag in `output_dir` is complete, holds the expected topics, and
    becomes a dataset."""

    def test_exit_codes(self, proc_info):
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_bag_in_output_dir_readable(self, run):
        from dodge_lstm.bags.rosbag_io import read_messages

        _, arguments, minimum = RUNS[run]
        counts: dict[str, int] = {}
        for topic, *_ in read_messages(Path(arguments["output_dir"])):
            counts[topic] = counts.get(topic, 0) + 1
        for topic, n in minimum.items():
            self.assertGreaterEqual(counts.get(topic, 0), n, counts)

    def test_bag_trains(self, run):
        """The pipeline's next step: `dodge-lstm dataset --bag DIR [--label-topic ...]`."""
        from dodge_lstm.bags.bag_dataset import recording_from_bag

        _, arguments, _ = RUNS[run]
        kwargs = {"label_topic": "expert/cmd_vel"} if run == "label" else {}
        rec = recording_from_bag(Path(arguments["output_dir"]), **kwargs)
        self.assertGreaterEqual(len(rec.features), 50)
        self.assertGreater(int((rec.commands != 0).sum()), 0)
        if run == "label":
            self.assertEqual(rec.meta["label_pairing"], "stamp")
            # Rows before the shadow's first answer (it starts with the graph) have no label.
            self.assertLessEqual(rec.meta["missing_labels"], 0.2 * len(rec.features))
