"""The lifecycle policy node over real DDS and real lifecycle/parameter services.

Configure fails on a model/timesteps mismatch and succeeds after the parameter is fixed; windows
become bounded commands; NaN and malformed windows are rejected, counted and answered with a zero
Twist; a stale window stream and deactivation leave the robot with a zero command.
"""

from pathlib import Path

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import Twist  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState, GetState  # noqa: E402
from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402

from dodge_lstm.core.arena import Arena  # noqa: E402
from dodge_lstm.core.features import FeatureWindow, ball_features  # noqa: E402
from dodge_lstm.resources import model_for  # noqa: E402
from dodge_lstm.ros.messages import window_to_msg  # noqa: E402
from dodge_lstm.ros.nodes.policy_node import DodgePolicy  # noqa: E402

pytestmark = pytest.mark.ros
MODEL = model_for(5, 15)


def real_windows(n: int = 5) -> list[np.ndarray]:
    """Windows from a few arena ticks, built with the feature code the node graph uses."""
    arena = Arena(1, seed=3)
    win = FeatureWindow(5)
    out = []
    for _ in range(20 + n):
        rows, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel,
                                arena.ball_pos, arena.ball_vel, arena.alive, arena.ball_id)
        win.push(rows)
        out.append(win.window()[0])
        arena.step(0.0)
    return out[-n:]


class Probe:
    """Test-side node: lifecycle/parameter clients, a window publisher and a cmd_vel log."""

    def __init__(self, context, executor: SingleThreadedExecutor) -> None:
        self.node = rclpy.create_node("policy_probe", context=context)
        executor.add_node(self.node)
        self.executor = executor
        self.change = self.node.create_client(ChangeState, "dodge_policy/change_state")
        self.get = self.node.create_client(GetState, "dodge_policy/get_state")
        self.setp = self.node.create_client(SetParameters, "dodge_policy/set_parameters")
        self.pub = self.node.create_publisher(Float32MultiArray, "dodge/window", 1)
        self.twists: list[float] = []
        self.node.create_subscription(Twist, "cmd_vel", lambda m: self.twists.append(m.linear.x),
                                      50)

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=10.0), client.srv_name
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=10.0)
        assert future.done(), f"{client.srv_name} did not answer"
        return future.result()

    def transition(self, tid: int) -> bool:
        return self.call(self.change, ChangeState.Request(transition=Transition(id=tid))).success

    def state(self) -> str:
        return self.call(self.get, GetState.Request()).current_state.label

    def set_int(self, name: str, value: int) -> bool:
        p = ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_INTEGER,
                                                         integer_value=value))
        return self.call(self.setp, SetParameters.Request(parameters=[p])).results[0].successful

    def wait_twists(self, n: int, timeout: float = 5.0) -> bool:
        target = len(self.twists) + n
        return spin_until(self.executor, lambda: len(self.twists) >= target, timeout)


@pytest.fixture
def graph(ros_context):
    if not MODEL.is_file():
        pytest.fail(f"shipped model {MODEL} missing")
    executor = SingleThreadedExecutor(context=ros_context)
    policy = DodgePolicy(context=ros_context, parameter_overrides=[
        Parameter("timesteps", value=8), Parameter("model", value=str(MODEL))])
    executor.add_node(policy)
    probe = Probe(ros_context, executor)
    yield policy, probe
    executor.shutdown()
    probe.node.destroy_node()
    policy.destroy_node()


def test_lifecycle_configure_fails_on_mismatch_then_succeeds(graph):
    policy, probe = graph
    assert probe.state() == "unconfigured"
    assert not probe.transition(Transition.TRANSITION_CONFIGURE)
    assert probe.state() == "unconfigured"
    assert policy.model is None
    assert probe.set_int("timesteps", 5)
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    assert probe.state() == "inactive"
    assert probe.transition(Transition.TRANSITION_ACTIVATE)
    assert probe.state() == "active"
    assert probe.transition(Transition.TRANSITION_DEACTIVATE)
    assert probe.transition(Transition.TRANSITION_CLEANUP)
    assert probe.state() == "unconfigured" and policy.model is None
    assert probe.transition(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
    assert probe.state() == "finalized"


def test_missing_model_fails_configure_with_a_clear_message(ros_context, tmp_path):
    executor = SingleThreadedExecutor(context=ros_context)
    policy = DodgePolicy(context=ros_context, parameter_overrides=[
        Parameter("model", value=str(tmp_path / "nope.tflite"))])
    executor.add_node(policy)
    messages = []
    policy.get_logger().error = lambda msg, **kw: messages.append(msg)  # capture the log line
    try:
        from rclpy.lifecycle import LifecycleState

        result = policy.on_configure(LifecycleState("unconfigured", 1))
        assert result.name == "FAILURE"
        assert messages and "nope.tflite" in messages[0] and "does not exist" in messages[0]
    finally:
        executor.shutdown()
        policy.destroy_node()


def test_windows_nan_stale_and_deactivate(graph):
    policy, probe = graph
    assert probe.set_int("timesteps", 5)
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    assert probe.transition(Transition.TRANSITION_ACTIVATE)
    # Valid windows -> bounded, finite commands, one per window.
    for w in real_windows(3):
        n0 = len(probe.twists)
        probe.pub.publish(window_to_msg(w))
        assert spin_until(probe.executor, lambda n0=n0: policy.windows > 0 and
                          len(probe.twists) > n0, 5.0)
    assert all(np.isfinite(probe.twists)) and max(abs(x) for x in probe.twists) <= 1.0
    # A NaN window: rejected, counted, answered with exactly zero.
    bad = real_windows(1)[0].copy()
    bad[2, 3] = np.nan
    before = policy.rejected_nan
    probe.pub.publish(window_to_msg(bad))
    assert spin_until(probe.executor, lambda: policy.rejected_nan == before + 1, 5.0)
    assert spin_until(probe.executor, lambda: len(probe.twists) == policy.twists, 3.0)
    assert probe.twists[-1] == 0.0  # the NaN window's answer
    # A malformed layout: rejected and counted too.
    msg = window_to_msg(real_windows(1)[0])
    msg.data = msg.data[:-3]
    probe.pub.publish(msg)
    assert spin_until(probe.executor, lambda: policy.rejected_malformed == 1, 5.0)
    # No windows for > 2 periods: the watchdog publishes zeros.
    stale0 = policy.stale_zeros
    assert spin_until(probe.executor, lambda: policy.stale_zeros >= stale0 + 3, 3.0)
    assert probe.twists[-1] == 0.0
    assert all(np.isfinite(probe.twists))
    # Deactivate right after a fresh window was answered: exactly one more (zero) Twist, then
    # silence, even when windows keep coming.
    w0 = policy.windows
    probe.pub.publish(window_to_msg(real_windows(1)[0]))
    assert spin_until(probe.executor, lambda: policy.windows > w0
                      and len(probe.twists) == policy.twists, 3.0)
    n = len(probe.twists)
    assert probe.transition(Transition.TRANSITION_DEACTIVATE)
    assert spin_until(probe.executor, lambda: len(probe.twists) >= n + 1, 3.0)
    assert probe.twists[-1] == 0.0
    probe.pub.publish(window_to_msg(real_windows(1)[0]))
    spin_until(probe.executor, lambda: False, 0.4)
    assert len(probe.twists) == n + 1
    assert probe.state() == "inactive"


def test_shipped_model_metadata_matches():
    import json

    meta = json.loads(Path(MODEL).with_suffix(".json").read_text())
    assert meta["timesteps"] == 5 and meta["units"] == 15 and meta["input_shape"] == [1, 5, 8]


@pytest.mark.parametrize("sigints", [1, 2])
def test_sigint_leaves_the_robot_with_a_zero_command(ros_context, sigints):
    """The node as its own process: active and driving, then Ctrl-C -> a last zero Twist and
    exit 0; a second Ctrl-C during that cleanup changes nothing."""
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-m", "dodge_lstm.ros.nodes.policy_node", "--ros-args", "-p",
         f"model:={MODEL}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=os.environ.copy())
    executor = SingleThreadedExecutor(context=ros_context)
    probe = Probe(ros_context, executor)
    try:
        # A fresh process: wait until it answers a (harmless, repeatable) query both ways
        # before sending transitions, which must not be lost or repeated.
        for _ in range(20):
            future = probe.get.call_async(GetState.Request()) if probe.get.wait_for_service(
                timeout_sec=5.0) else None
            if future is not None and spin_until(executor, future.done, 1.0):
                break
        else:
            pytest.fail(f"policy process never answered get_state: {proc.poll()}")
        assert probe.transition(Transition.TRANSITION_CONFIGURE)
        assert probe.transition(Transition.TRANSITION_ACTIVATE)
        windows = real_windows(2)
        assert spin_until(executor, lambda: probe.pub.get_subscription_count() > 0, 10.0)
        for w in windows:
            probe.pub.publish(window_to_msg(w))
            spin_until(executor, lambda: False, 0.05)
        assert spin_until(executor, lambda: any(x != 0.0 for x in probe.twists), 5.0)
        n = len(probe.twists)
        proc.send_signal(signal.SIGINT)
        if sigints == 2:
            # The last zero Twist is out: the node is in its cleanup (ack wait, teardown).
            spin_until(executor, lambda: len(probe.twists) > n and probe.twists[-1] == 0.0, 5.0)
            proc.send_signal(signal.SIGINT)
        assert spin_until(executor, lambda: proc.poll() is not None, 10.0)
        spin_until(executor, lambda: False, 0.3)
        assert proc.returncode == 0, proc.stdout.read()
        assert len(probe.twists) > n and probe.twists[-1] == 0.0
    finally:
        if proc.poll() is None:
            proc.kill()
        executor.shutdown()
        probe.node.destroy_node()
