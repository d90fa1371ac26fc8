"""The lifecycle policy node over real DDS and real lifecycle/parameter services.

Configure fails on a model/timesteps mismatch and succeeds after the parameter is fixed; each
valid window is answered with exactly the model's command (a node publishing zeros fails);
NaN, Inf, overflowing and malformed windows change only the counters (the last valid command
stands); a flood gets one command per control tick; a stale window stream and deactivation
leave the robot with a zero command.
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
from dodge_lstm.runtime.tflite_policy import TFLitePolicy  # noqa: E402

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
                                      200)

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
        # It says what ships and how to pick it, so the fix needs no reading of the source.
        assert "timesteps 5: units 4, 8, 15, 20, 32" in messages[0], messages[0]
        assert "timesteps:=N units:=U" in messages[0] and "default.tflite" in messages[0]
    finally:
        executor.shutdown()
        policy.destroy_node()


def _active(policy, probe) -> None:
    assert probe.set_int("timesteps", 5)
    assert probe.transition(Transition.TRANSITION_CONFIGURE)
    assert probe.transition(Transition.TRANSITION_ACTIVATE)


def _send(probe, policy, msg) -> None:
    """Publish one window and spin until the policy has taken it (bounded)."""
    w0 = policy.windows
    probe.pub.publish(msg)
    assert spin_until(probe.executor, lambda: policy.windows > w0, 5.0)


def _bad_windows(good: np.ndarray) -> list[Float32MultiArray]:
    """The garbage the issue found: NaN, Inf, 3e38, wrong sizes, no layout, empty."""
    out = []
    for value in (np.nan, np.inf, -np.inf, 3e38):
        w = good.copy()
        w[2, 3] = value
        out.append(window_to_msg(w))
    short = window_to_msg(good)
    short.data = short.data[:-3]
    out.append(short)
    out.append(window_to_msg(np.zeros((4, 8), np.float32)))  # wrong timesteps
    out.append(window_to_msg(np.zeros((5, 6), np.float32)))  # wrong features
    no_layout = window_to_msg(good)
    no_layout.layout.dim = []
    out.append(no_layout)
    out.append(Float32MultiArray())  # empty
    return out


def test_commands_are_the_models_answers_and_garbage_changes_nothing(graph):
    policy, probe = graph
    _active(policy, probe)
    model = TFLitePolicy(MODEL, timesteps=5)
    valid = real_windows(4)
    expected = [model(w) for w in valid]
    assert len({round(x, 6) for x in expected}) > 1 and any(abs(x) > 0.05 for x in expected)
    # Valid windows, one per control period: each answered with the model's own command.
    for w, want in zip(valid[:2], expected[:2], strict=True):
        n0 = len(probe.twists)
        _send(probe, policy, window_to_msg(w))
        assert probe.wait_twists(1) and len(probe.twists) == n0 + 1
        assert probe.twists[-1] == pytest.approx(want, abs=1e-6)
        spin_until(probe.executor, lambda: False, 0.1)
    # 30 malformed windows between two valid ones: no command for any of them.
    n0 = len(probe.twists)
    rejected0 = policy.rejected_nan + policy.rejected_malformed
    _send(probe, policy, window_to_msg(valid[2]))
    for msg in (_bad_windows(valid[2]) * 4)[:30]:
        _send(probe, policy, msg)
    _send(probe, policy, window_to_msg(valid[3]))
    assert spin_until(probe.executor, lambda: len(probe.twists) >= n0 + 2, 3.0)
    spin_until(probe.executor, lambda: False, 0.05)
    assert probe.twists[n0:] == pytest.approx(expected[2:4], abs=1e-6)
    assert policy.rejected_nan + policy.rejected_malformed == rejected0 + 30
    assert policy.rejected_nan >= 3 * 4 - 1  # NaN and +-Inf of each round
    # Then silence: after stale_periods the watchdog stops the robot, and only then.
    stale0 = policy.stale_zeros
    assert spin_until(probe.executor, lambda: policy.stale_zeros >= stale0 + 3, 3.0)
    assert probe.twists[-1] == 0.0 and all(np.isfinite(probe.twists))


def _junk_by_kind(good: np.ndarray) -> dict[str, tuple[Float32MultiArray, str]]:
    """The issue's junk, one message per kind, with the counter that must take it."""
    from std_msgs.msg import MultiArrayDimension

    def with_dims(msg: Float32MultiArray, dims: list[int]) -> Float32MultiArray:
        msg.layout.dim = [MultiArrayDimension(label=str(i), size=n, stride=n) for i, n in
                          enumerate(dims)]
        return msg

    out = {}
    for kind, value in (("nan", np.nan), ("inf", np.inf)):
        w = good.copy()
        w[1, 2] = value
        out[kind] = (window_to_msg(w), "rejected_nan")
    out["huge"] = (window_to_msg(np.full_like(good, 1e30)), "rejected_malformed")
    out["short"] = (window_to_msg(good[:-1]), "rejected_malformed")
    out["long"] = (window_to_msg(np.tile(good, (20, 1))), "rejected_malformed")  # 100 rows
    out["no_layout"] = (with_dims(window_to_msg(good), []), "rejected_malformed")
    out["dims"] = (with_dims(window_to_msg(good), [5, 8, 1]), "rejected_malformed")
    out["empty"] = (Float32MultiArray(), "rejected_malformed")
    garbage = with_dims(window_to_msg(good), [7, 999])
    garbage.layout.data_offset = 3
    out["garbage"] = (garbage, "rejected_malformed")
    return out


def test_junk_is_counted_by_kind_and_costs_no_log_call(graph):
    """Every kind of junk lands in its counter and never becomes a command; and a rejected
    window goes into rclpy's logging only when a warning is due (once per kind per 5 s):
    rclpy's own throttle inspects the caller's frames first, 0.3 ms per rejected window, 20
    times an answered one (in `bench_graph.py --junk`, 36 junk windows/s then cost 11% of the
    commands on a busy machine; 1.5% once the throttle was decided first). Mutant caught: the
    throttle left to `throttle_duration_sec` (27 log calls for 27 windows)."""
    policy, probe = graph
    _active(policy, probe)
    good = real_windows(1)[0]
    logger = policy.get_logger()
    calls: list[str] = []
    for level in ("warning", "error"):
        original = getattr(logger, level)
        setattr(logger, level, lambda msg, _f=original, **kw: (calls.append(msg), _f(msg, **kw)))
    _send(probe, policy, window_to_msg(good))
    assert probe.wait_twists(1)
    answers0 = policy.twists - policy.stale_zeros
    junk = _junk_by_kind(good)
    before = {"rejected_nan": policy.rejected_nan,
              "rejected_malformed": policy.rejected_malformed}
    for _ in range(3):
        for kind, (msg, counter) in junk.items():
            count0 = getattr(policy, counter)
            _send(probe, policy, msg)
            assert getattr(policy, counter) == count0 + 1, kind
    assert policy.rejected_nan == before["rejected_nan"] + 3 * 2
    assert policy.rejected_malformed == before["rejected_malformed"] + 3 * 7
    assert policy.model_errors == 0
    assert policy.twists - policy.stale_zeros == answers0  # none of them was answered
    assert len(calls) <= 2, calls  # one "malformed" and one "window rejected" warning
    spin_until(probe.executor, lambda: len(probe.twists) == policy.twists, 1.0)
    assert all(np.isfinite(probe.twists))


def test_a_real_window_is_not_displaced_by_junk_queued_behind_it(graph):
    """A valid window, then junk from another publisher, all before the policy's executor gets
    to take any of them (as on a busy machine): the valid window is still answered and every
    junk message counted. Mutant caught: the one-deep window queue, where the last junk
    message displaced the other five (with the cheap rejection in place, 36 junk windows/s
    still cost 13% of the commands with two busy processes in `bench_graph.py --junk`)."""
    import time

    policy, probe = graph
    _active(policy, probe)
    model = TFLitePolicy(MODEL, timesteps=5)
    good = real_windows(1)[0]
    junk_pub = probe.node.create_publisher(Float32MultiArray, "dodge/window", 10)
    assert spin_until(probe.executor, lambda: junk_pub.get_subscription_count() > 0, 5.0)
    spin_until(probe.executor, lambda: False, 0.3)  # the rate limit's bucket is full again
    junk = [msg for msg, _ in _junk_by_kind(good).values()][:5]
    w0, t0 = policy.windows, policy.twists - policy.stale_zeros
    rejected0 = policy.rejected_nan + policy.rejected_malformed
    probe.pub.publish(window_to_msg(good))
    for msg in junk:
        junk_pub.publish(msg)
    time.sleep(0.2)  # no spinning: everything waits in the policy's queue
    assert spin_until(probe.executor, lambda: policy.windows >= w0 + 1 + len(junk), 3.0), \
        (policy.windows - w0, policy.rejected_nan + policy.rejected_malformed - rejected0)
    assert policy.rejected_nan + policy.rejected_malformed == rejected0 + len(junk)
    assert policy.twists - policy.stale_zeros == t0 + 1
    spin_until(probe.executor, lambda: len(probe.twists) == policy.twists, 1.0)
    assert model(good) in [pytest.approx(x, abs=1e-6) for x in probe.twists[-3:]]


def test_a_flood_of_windows_gets_one_command_per_tick(graph):
    """100 windows as fast as the node takes them: a burst of at most two commands, then one
    per control period; the command that finally stands is the answer to the last window."""
    import time

    policy, probe = graph
    _active(policy, probe)
    model = TFLitePolicy(MODEL, timesteps=5)
    windows = real_windows(100)
    spin_until(probe.executor, lambda: False, 0.3)  # the bucket is full again
    t0 = policy.twists
    start = time.monotonic()
    for w in windows:
        _send(probe, policy, window_to_msg(w))
    elapsed = time.monotonic() - start
    sent = policy.twists - t0
    assert sent <= 2 + int(elapsed * 10.0), (sent, elapsed)
    assert policy.superseded >= 100 - sent - 1
    # The held answer to the last window goes out at the next tick, before the watchdog.
    assert spin_until(probe.executor, lambda: policy.twists > t0 + sent, 1.0)
    spin_until(probe.executor, lambda: len(probe.twists) == policy.twists, 1.0)
    assert probe.twists[-1] == pytest.approx(model(windows[-1]), abs=1e-6)


def test_stale_and_deactivate(graph):
    policy, probe = graph
    _active(policy, probe)
    # No windows for > 2 periods: the watchdog publishes zeros.
    stale0 = policy.stale_zeros
    assert spin_until(probe.executor, lambda: policy.stale_zeros >= stale0 + 3, 3.0)
    assert probe.twists[-1] == 0.0
    # Deactivate right after a fresh window was answered: exactly one more (zero) Twist, then
    # silence, even when windows keep coming.
    spin_until(probe.executor, lambda: False, 0.3)
    w0 = policy.windows
    probe.pub.publish(window_to_msg(real_windows(1)[0]))
    assert spin_until(probe.executor, lambda: policy.windows > w0
                      and len(probe.twists) == policy.twists, 3.0)
    assert probe.twists[-1] != 0.0  # the answer, not a watchdog zero
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
