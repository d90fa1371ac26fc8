"""The in-process graph's executor (issue 18): what the EventsExecutor changes, held to what the
SingleThreadedExecutor did. Real rclpy, real DDS, real signals.

1. `WithMessageInfo`: a callback that wants `MessageInfo` gets (message, info) under both
   executors (rclpy 9.1's EventsExecutor passes one tuple: the observer's latencies would die
   with a TypeError).
2. `ros.cdr_peek`: stamp, child frame and finiteness read from serialized Odometry equal what
   deserializing says, for every frame id length (the alignment of the second string).
3. Ctrl-C: `dodge-lstm sim` ends the run with its summary (asio's own handler would shut the
   context down first), and a run in this process leaves the SIGINT handler it found (asio
   resets it to SIG_DFL when its executor goes: the next Ctrl-C would kill the process).
4. `--executor single` still runs the exact twin.
"""

from __future__ import annotations

import json
import math
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

rclpy = pytest.importorskip("rclpy")

from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.experimental import EventsExecutor  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from dodge_lstm.core.odometry import robot_state  # noqa: E402
from dodge_lstm.ros.bringup.graph_executor import WithMessageInfo  # noqa: E402
from dodge_lstm.ros.cdr_peek import peek_odometry  # noqa: E402

pytestmark = pytest.mark.ros

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("make_executor", [SingleThreadedExecutor, EventsExecutor],
                         ids=["single", "events"])
def test_message_info_callbacks_work_under_both_executors(ros_context, make_executor):
    """Mutant caught: the observer's callbacks subscribed bare (`self.on_odom`), which the
    EventsExecutor calls with one tuple: no message ever counted."""
    got: list[tuple[str, int]] = []
    node = rclpy.create_node("info_probe", context=ros_context)
    executor = make_executor(context=ros_context)
    try:
        sub = node.create_subscription(
            String, "info_probe", WithMessageInfo(lambda m, i: got.append(
                (m.data, i["source_timestamp"]))), 10)
        assert sub._callback_type == sub.CallbackType.WithMessageInfo
        pub = node.create_publisher(String, "info_probe", 10)
        executor.add_node(node)
        before = time.time_ns()
        assert spin_until(executor, lambda: pub.get_subscription_count() > 0, 5.0)
        pub.publish(String(data="hello"))
        assert spin_until(executor, lambda: bool(got), 5.0)
        assert got[0][0] == "hello" and got[0][1] >= before - 10**9
    finally:
        executor.shutdown()
        node.destroy_node()


def _odometry(frame: str, child: str) -> Odometry:
    msg = Odometry()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1234, 567_000_001
    msg.header.frame_id, msg.child_frame_id = frame, child
    msg.pose.pose.position.x, msg.twist.twist.linear.y = -3.25, 4.5
    msg.pose.pose.position.y = 1.5
    msg.pose.pose.orientation.z, msg.pose.pose.orientation.w = math.sin(0.35), math.cos(0.35)
    return msg


@pytest.mark.parametrize("frame_len", range(0, 9))
def test_peek_reads_what_deserializing_reads(frame_len):
    """Every frame id length (0-8) moves the child frame's alignment; every float64 position
    can hold the NaN. Mutants caught: no alignment to 4 (child names read shifted), floats
    read from the wrong offset (a NaN in the last covariance missed)."""
    for child in ("b", "ball_7", "ball_12345"):
        msg = _odometry("o" * frame_len, child)
        peek = peek_odometry(serialize_message(msg))
        assert peek[:3] == (1234_567_000_001, child, True)
        pos, yaw, _ = robot_state(msg)  # the pose the markers node places reports with
        assert (peek.x, peek.y) == (pos[0], pos[1]) and peek.yaw == pytest.approx(yaw, abs=1e-12)
        for field, index in (("pose", 0), ("pose", 35), ("twist", 35)):
            bad = _odometry("o" * frame_len, child)
            getattr(bad, field).covariance[index] = math.nan
            assert peek_odometry(serialize_message(bad)).finite is False
        bad = _odometry("o" * frame_len, child)
        bad.twist.twist.angular.z = math.inf
        assert peek_odometry(serialize_message(bad)).finite is False


def test_peek_refuses_what_it_cannot_read():
    data = serialize_message(_odometry("odom", "ball_1"))
    assert peek_odometry(data[:30]) is None  # cut short
    assert peek_odometry(b"\x00\x02" + data[2:]) is None  # another encapsulation
    # No name is read as one (the markers node sends it down the rejecting slow path).
    assert peek_odometry(serialize_message(_odometry("odom", ""))).child_frame_id == ""


def _sim_process(args: list[str]) -> subprocess.Popen:
    env = dict(os.environ)  # this test's ROS domain and discovery range (conftest)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.Popen([sys.executable, "-m", "dodge_lstm.cli", "sim", "--json", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout_s: float) -> bool:
    """Read stderr lines until one holds `needle`, bounded by `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([proc.stderr], [], [], left)
        if not ready:
            break
        line = proc.stderr.readline()
        if not line:
            return False
        if needle in line:
            return True
    return False


def test_ctrl_c_ends_the_run_with_its_summary():
    """SIGINT while the graph runs: exit 0, the summary on stdout, `interrupted`, the policy
    still active when asked. Mutants caught: the EventsExecutor's own handler left in place
    (the context shuts down: no deactivate, an exception, exit 1) and a KeyboardInterrupt-only
    loop (the signal never reaches Python while C++ spins)."""
    proc = _sim_process(["--duration", "600"])
    try:
        assert _wait_for_line(proc, "windows of", 60.0), "the graph never came up"
        # The policy announced its window; the run loop starts within a second. A SIGINT before
        # it starts must end the run all the same.
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60.0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["interrupted"] is True
    assert summary["policy_state"] == "active" and summary["executor"] == "events"


def test_a_run_in_this_process_leaves_the_sigint_handler_it_found():
    """Mutant caught: no `restore_signals()` after the executor goes (asio's SIG_DFL: the next
    Ctrl-C kills pytest without a report)."""
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions

    before = signal.getsignal(signal.SIGINT)
    term = signal.getsignal(signal.SIGTERM)
    summary = run_sim(SimOptions(policy="expert", lockstep=True, balls=3, seed=1, markers=False))
    assert summary["balls"] == 3
    assert signal.getsignal(signal.SIGINT) is before
    assert signal.getsignal(signal.SIGTERM) is term


def test_the_single_threaded_fallback_runs_the_same_twin():
    """`--executor single`: the same balls, resolved the same way, as the arena (the default
    executor is held to it by test_twin)."""
    from dodge_lstm.core.ball_records import BallLog, first_difference
    from dodge_lstm.core.config import SpawnConfig
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.resources import resolve_model
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions
    from dodge_lstm.runtime.learned_policy import make_policy

    graph_log, arena_log = BallLog(), BallLog()
    summary = run_sim(SimOptions(lockstep=True, balls=40, seed=11, executor="single",
                                 markers=False), ball_log=graph_log)
    assert summary["executor"] == "single" and summary["policy_state"] == "active"
    evaluate(make_policy(str(resolve_model("", None, None)), seed=11), 40, seed=11,
             spawn_cfg=SpawnConfig(), arenas=1, ball_log=arena_log)
    assert first_difference(graph_log.records(40), arena_log.records()) is None
