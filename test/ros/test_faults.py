"""Faults the graph must survive, with real nodes, real processes and real DDS.

1. The feature node SIGKILLed while the policy is active: the policy's watchdog stops the robot
   within `stale_periods` control periods and keeps it stopped while the node is dead; when the
   node is back the policy drives again, with the model's answers to the new windows (a watchdog
   zero never counts as "driving again").
2. 1000 configure/activate/deactivate/cleanup cycles through the real lifecycle services: no
   publisher, subscription, timer or callback-group entry left behind (in the node and in the
   graph), and RSS flat to within 5 MB.
3. The recorder SIGKILLed mid-run: the bag it never closed reads up to its last chunk, with at
   most a second of each topic lost, and `dodge-lstm dataset --bag` takes it. (SIGINT leaves a
   complete bag: test_recorder.py.)
4. A second graph on one ROS domain: `dodge-lstm sim` refuses at once, naming ROS_DOMAIN_ID and
   its value, instead of failing a lifecycle transition half way.

Times in these tests are bounds on waits, never performance targets (bench/ has those).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

from geometry_msgs.msg import Twist  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.exceptions import InvalidHandle  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.parameter import Parameter  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from std_msgs.msg import Float32MultiArray  # noqa: E402

from dodge_lstm.bags import rosbag_io as bags  # noqa: E402
from dodge_lstm.cli import main as cli_main  # noqa: E402
from dodge_lstm.resources import model_for  # noqa: E402
from dodge_lstm.ros.bringup import graph_guard  # noqa: E402
from dodge_lstm.ros.bringup.graph import run_sim  # noqa: E402
from dodge_lstm.ros.bringup.lifecycle_client import LifecycleClient  # noqa: E402
from dodge_lstm.ros.bringup.options import SimOptions  # noqa: E402
from dodge_lstm.ros.messages import msg_to_window  # noqa: E402
from dodge_lstm.ros.nodes.policy_node import DodgePolicy  # noqa: E402
from dodge_lstm.ros.nodes.sim_node import DodgeSim  # noqa: E402
from dodge_lstm.ros.nodes.spawner_node import BallSpawner  # noqa: E402
from dodge_lstm.ros.qos import CMD_QOS, STATE_QOS  # noqa: E402
from dodge_lstm.runtime.tflite_policy import TFLitePolicy  # noqa: E402

pytestmark = pytest.mark.ros

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = model_for(5, 15)
T = Transition
CYCLE = (T.TRANSITION_CONFIGURE, T.TRANSITION_ACTIVATE, T.TRANSITION_DEACTIVATE,
         T.TRANSITION_CLEANUP)

# Scheduling allowance on top of a deadline the node itself sets (Python callbacks on a shared
# 2-core machine); a bound on a wait, not a latency target.
SCHEDULING_MARGIN_S = 0.4
START_TIMEOUT_S = 30.0  # a fresh Python process importing rclpy and discovering the graph


def node_process(module: str, ros_args: list[str], log: Path) -> subprocess.Popen:
    """A node's console-script module as its own process, in this test's ROS domain."""
    env = dict(os.environ)  # carries ROS_DOMAIN_ID and the discovery range (conftest)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    with log.open("a") as out:
        return subprocess.Popen(
            [sys.executable, "-m", f"dodge_lstm.ros.nodes.{module}", "--ros-args", *ros_args],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent)


def sigkill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10.0)


def stop(proc: subprocess.Popen) -> None:
    """Ctrl-C, then SIGKILL if it has not exited within a bounded wait."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            sigkill(proc)


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/self/status")


# -- 1. the feature node killed under an active policy -----------------------------------------


class CommandProbe:
    """Logs `dodge/window` and `cmd_vel` with their DDS source timestamps (what the nodes sent,
    not when this executor got round to it), and what the model answers to each window."""

    def __init__(self, context: Any, executor: SingleThreadedExecutor) -> None:
        self.node = rclpy.create_node("fault_probe", context=context)
        executor.add_node(self.node)
        self.model = TFLitePolicy(MODEL, timesteps=5)
        self.windows: list[tuple[int, float]] = []  # (source ns, model's answer)
        self.twists: list[tuple[int, float]] = []  # (source ns, linear.x)
        deep = QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
        self.node.create_subscription(Float32MultiArray, "dodge/window", self.on_window, deep)
        self.node.create_subscription(Twist, "cmd_vel", self.on_twist, deep)

    def on_window(self, msg: Float32MultiArray, info: Any) -> None:
        self.windows.append((info["source_timestamp"], self.model(msg_to_window(msg))))

    def on_twist(self, msg: Twist, info: Any) -> None:
        self.twists.append((info["source_timestamp"], msg.linear.x))

    def answers_since(self, t_ns: int) -> list[float]:
        return [cmd for src, cmd in self.windows if src >= t_ns]

    def driving_since(self, t_ns: int) -> list[float]:
        """Non-zero commands sent since `t_ns` that answer a window sent since `t_ns`."""
        answers = np.array(self.answers_since(t_ns))
        return [x for src, x in self.twists if src >= t_ns and x != 0.0
                and answers.size and np.min(np.abs(answers - x)) <= 1e-6]


def test_killing_the_feature_node_stops_the_robot_until_it_is_back(ros_context, tmp_path):
    if not MODEL.is_file():
        pytest.fail(f"shipped model {MODEL} missing")
    executor = SingleThreadedExecutor(context=ros_context)
    nodes = [
        DodgeSim(context=ros_context),
        BallSpawner(context=ros_context, parameter_overrides=[Parameter("seed", value=4)]),
        # As the graph runs it: the policy on the simulator's /clock.
        DodgePolicy(context=ros_context, parameter_overrides=[
            Parameter("use_sim_time", value=True), Parameter("model", value=str(MODEL)),
            Parameter("timesteps", value=5)]),
    ]
    policy = nodes[-1]
    for node in nodes:
        executor.add_node(node)
    probe = CommandProbe(ros_context, executor)
    log = tmp_path / "ball_features.log"
    features = node_process("features_node", [], log)
    try:
        lifecycle = LifecycleClient(probe.node, executor, "dodge_policy")
        lifecycle.get_state()
        assert lifecycle.change_state(T.TRANSITION_CONFIGURE)
        assert lifecycle.change_state(T.TRANSITION_ACTIVATE)
        period_s = 1.0 / policy.get_parameter("rate_hz").value
        stale_periods = policy.get_parameter("stale_periods").value

        # Driving: the model's answers to the feature process's windows reach cmd_vel.
        assert spin_until(executor, lambda: len(probe.driving_since(0)) >= 5,
                          START_TIMEOUT_S), (probe.twists[-5:], log.read_text())
        assert all(np.isfinite([x for _, x in probe.twists]))

        sigkill(features)
        t_kill = time.time_ns()
        # Dead for 1.5 s: ~15 control periods.
        spin_until(executor, lambda: False, 1.5)
        t_restart = time.time_ns()
        last_window = max(src for src, _ in probe.windows)
        assert last_window < t_kill
        after = [(src, x) for src, x in probe.twists if last_window < src < t_restart]
        zeros = [src for src, x in after if x == 0.0]
        assert zeros, f"no zero command in 1.5 s without windows: {after}"
        # The watchdog: stale after stale_periods periods, noticed at the next timer tick.
        deadline_s = (stale_periods + 1) * period_s + SCHEDULING_MARGIN_S
        print(f"last window -> first zero: {(zeros[0] - last_window) / 1e9:.3f} s "
              f"(bound {deadline_s:.2f} s); {len(zeros)} zeros while dead")
        assert (zeros[0] - last_window) / 1e9 <= deadline_s, (zeros[0] - last_window) / 1e9
        # Before it, at most the (rate-limited, so possibly held) answers to the last two
        # windows; after it, zeros only, and more of them (every period, not one and silence).
        last_answers = np.array([cmd for _, cmd in sorted(probe.windows)[-2:]])
        early = [x for src, x in after if src < zeros[0]]
        assert len(early) <= 2 and all(np.min(np.abs(last_answers - x)) <= 1e-6
                                       for x in early), (early, last_answers)
        assert all(x == 0.0 for src, x in after if src >= zeros[0]), after
        assert len(zeros) >= 5, after

        features = node_process("features_node", [], log)
        # Back: non-zero commands again, each the model's answer to a window the new process
        # sent; zeros from the watchdog meanwhile do not count.
        assert spin_until(executor, lambda: len(probe.driving_since(t_restart)) >= 5,
                          START_TIMEOUT_S), (probe.twists[-5:], log.read_text())
        resumed = [x for src, x in probe.twists if src >= t_restart and x != 0.0]
        assert resumed == probe.driving_since(t_restart)  # nothing else, nothing stale
        assert lifecycle.get_state() == "active"
        assert lifecycle.change_state(T.TRANSITION_DEACTIVATE)
    finally:
        stop(features)
        executor.shutdown()
        probe.node.destroy_node()
        for node in nodes:
            node.destroy_node()
        # A failed assertion's traceback keeps this frame: let go of the lifecycle node anyway
        # (rclpy keeps a destroyed LifecycleNode in the graph while it is referenced).
        nodes = policy = node = None


# -- 2. many lifecycle cycles ------------------------------------------------------------------

LIFECYCLE_CYCLES = 1000  # ~3 ms each here: the whole test takes a few seconds
WARM_UP_CYCLES = 50
GROUP_ENTRY_SLACK = 20


def node_entities(node: DodgePolicy) -> dict[str, Any]:
    """What the node holds, by kind; callback-group entries count every entity ever added and
    not yet forgotten (rclpy keeps a weak reference per entity: ros2/rclpy#1356)."""
    groups = {id(e.callback_group): e.callback_group
              for kind in (node.publishers, node.subscriptions, node.timers, node.clients,
                           node.services, node.waitables, node.guards)
              for e in kind if getattr(e, "callback_group", None) is not None}
    groups[id(node.default_callback_group)] = node.default_callback_group
    return {
        "publishers": sorted(p.topic_name for p in node.publishers),
        "subscriptions": sorted(s.topic_name for s in node.subscriptions),
        "timers": len(list(node.timers)),
        "clients": len(list(node.clients)),
        "services": sorted(s.srv_name for s in node.services),
        "waitables": len(list(node.waitables)),
        "guards": len(list(node.guards)),
        "callback_group_entries": sum(len(g.entities) for g in groups.values()),
    }


def without_groups(entities: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entities.items() if k != "callback_group_entries"}


def graph_view(probe: Any) -> tuple[list, list, list]:
    """The policy as the rest of the graph sees it."""
    return (sorted(probe.get_publisher_names_and_types_by_node("dodge_policy", "/")),
            sorted(probe.get_subscriber_names_and_types_by_node("dodge_policy", "/")),
            sorted(probe.get_service_names_and_types_by_node("dodge_policy", "/")))


def test_a_thousand_lifecycle_cycles_leave_nothing_behind(ros_context):
    executor = SingleThreadedExecutor(context=ros_context)
    policy = DodgePolicy(context=ros_context, parameter_overrides=[
        Parameter("model", value=str(MODEL)), Parameter("timesteps", value=5)])
    probe = rclpy.create_node("lifecycle_probe", context=ros_context)
    executor.add_node(policy)
    executor.add_node(probe)
    lifecycle = LifecycleClient(probe, executor, "dodge_policy")
    try:
        assert lifecycle.get_state() == "unconfigured"

        def cycle(check_active: dict[str, Any] | None = None) -> dict[str, Any]:
            active: dict[str, Any] = {}
            for transition in CYCLE:
                assert lifecycle.change_state(transition), transition
                if transition == T.TRANSITION_ACTIVATE:
                    active = node_entities(policy)
                    if check_active is not None:
                        assert without_groups(active) == without_groups(check_active)
            return active

        active0 = cycle()
        # Live, the node has its command publisher, its window subscription and its timers once.
        assert active0["publishers"].count("/cmd_vel") == 1
        assert active0["subscriptions"].count("/dodge/window") == 1
        assert active0["timers"] >= 1
        for _ in range(WARM_UP_CYCLES - 1):
            cycle()
        gc.collect()
        before, graph_before, rss_before = node_entities(policy), graph_view(probe), vm_rss_kib()
        assert "/cmd_vel" not in before["publishers"]  # unconfigured: released
        started = time.perf_counter()
        for i in range(LIFECYCLE_CYCLES):
            # Compare the active state on a sample of cycles (a snapshot costs a little).
            cycle(check_active=active0 if i % 100 == 0 else None)
        elapsed = time.perf_counter() - started
        gc.collect()
        after = node_entities(policy)
        assert without_groups(after) == without_groups(before)
        # A destroyed entity can outlive its cleanup by a cycle or two (the executor's last
        # wait set holds it): a little slack, far below the ~9 entries a cycle a leak leaves.
        grown = after["callback_group_entries"] - before["callback_group_entries"]
        print(f"callback-group entries: {before['callback_group_entries']} -> "
              f"{after['callback_group_entries']}")
        assert grown <= GROUP_ENTRY_SLACK, (
            f"{grown} callback-group entries left behind by {LIFECYCLE_CYCLES} cycles: rclpy "
            f"keeps a weak reference per entity ever added (ros2/rclpy#1356); the node must "
            f"forget its destroyed ones")
        assert spin_until(executor, lambda: graph_view(probe) == graph_before, 5.0), (
            graph_view(probe), graph_before)
        growth_kib = vm_rss_kib() - rss_before
        print(f"{LIFECYCLE_CYCLES} cycles in {elapsed:.1f} s; RSS growth {growth_kib} KiB")
        assert growth_kib < 5 * 1024, f"RSS grew {growth_kib} KiB in {LIFECYCLE_CYCLES} cycles"
        assert lifecycle.get_state() == "unconfigured"
    finally:
        executor.shutdown()
        probe.destroy_node()
        policy.destroy_node()
        policy = None  # as above: not kept in the graph by a failure's traceback


# -- 3. the recorder killed mid-run ------------------------------------------------------------

# Topic -> publishing rate [Hz], the game's rates: odometry per tick, ball odometry, commands.
RECORDED = {"odom": 50.0, "balls/odom": 25.0, "cmd_vel": 10.0}
RECORD_S = 3.0
MAX_LOSS_S = 1.0


class GamePublisher:
    """Numbered messages on the recorded topics at fixed rates, with their send times."""

    def __init__(self, context: Any, executor: SingleThreadedExecutor, ns: str) -> None:
        self.node = rclpy.create_node("game", namespace=ns, context=context)
        executor.add_node(self.node)
        self.pubs = {
            "odom": self.node.create_publisher(Odometry, "odom", STATE_QOS),
            "balls/odom": self.node.create_publisher(Odometry, "balls/odom", STATE_QOS),
            "cmd_vel": self.node.create_publisher(Twist, "cmd_vel", CMD_QOS),
        }
        self.sent: dict[str, list[int]] = {topic: [] for topic in RECORDED}
        self.timers: list[Any] = []

    def start(self) -> None:
        for topic, rate in RECORDED.items():
            self.timers.append(self.node.create_timer(
                1.0 / rate, lambda topic=topic, rate=rate: self.publish(topic, rate)))

    def stop(self) -> None:
        for timer in self.timers:
            timer.cancel()

    def publish(self, topic: str, rate: float) -> None:
        i = len(self.sent[topic])
        if topic == "cmd_vel":
            msg = Twist()
            msg.linear.x = 0.5 * np.sin(0.3 * i)
            msg.angular.z = float(i)  # the message's number
        else:
            msg = Odometry()
            # Simulated time from 0, one stamp per message: the number is in the stamp.
            msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(round(i * 1e9 / rate), 10**9)
            msg.header.frame_id = "odom"
            msg.pose.pose.orientation.w = 1.0
            if topic == "odom":
                msg.child_frame_id = "base_link"
            else:  # one ball flying past the robot, 3 m to its left
                msg.child_frame_id = "ball_1"
                msg.pose.pose.position.x, msg.pose.pose.position.y = 5.0 - 4.0 * i / rate, 3.0
                msg.twist.twist.linear.x = -4.0
        self.pubs[topic].publish(msg)
        self.sent[topic].append(time.time_ns())


def message_number(topic: str, msg: Any) -> int:
    if topic == "cmd_vel":
        return round(msg.angular.z)
    return round((msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
                 * RECORDED[topic] / 1e9)


def recovered(bag: Path) -> list[bags.BagMessage]:
    """The messages of a bag that was never closed ([] if nothing was on disk yet)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            msgs = list(bags.read_messages(bag))
        except bags.BagError as exc:
            assert "never closed" in str(exc) and "no complete chunk" in str(exc), exc
            return []
    assert [w.category for w in caught] == [bags.BagRecoveredWarning], caught
    return msgs


def losses(msgs: list[bags.BagMessage], ns: str, sent: dict[str, list[int]], t_ns: int
           ) -> dict[str, float]:
    """Per topic, seconds of data a kill at `t_ns` lost: from the first message sent and not in
    the bag (in flight included) to `t_ns`. The bag must hold exactly the first k sent."""
    out = {}
    for topic in RECORDED:
        numbers = [message_number(topic, m.msg) for m in msgs if m.topic == f"{ns}/{topic}"]
        kept = len(numbers)
        assert numbers == list(range(kept)), (topic, numbers[:5], numbers[-5:])
        assert kept <= len(sent[topic])
        out[topic] = (t_ns - sent[topic][kept]) / 1e9 \
            if kept < len(sent[topic]) and sent[topic][kept] < t_ns else 0.0
    return out


def test_sigkill_of_the_recorder_loses_at_most_a_second(ros_context, tmp_path):
    """The recorder killed at one moment samples one phase of its flushing; the file as it is
    on disk at any moment is what a kill then would leave, so it is also read every quarter
    second while recording: the bound must hold at each of those moments too."""
    ns = "/killed"
    bag = tmp_path / "bag"
    mcap = bag / "bag.mcap"
    executor = SingleThreadedExecutor(context=ros_context)
    game = GamePublisher(ros_context, executor, ns)
    snapshots: list[tuple[int, bytes]] = []
    log = tmp_path / "recorder.log"
    recorder = node_process("recorder_node", [
        "-r", f"__ns:={ns}", "-p", f"topics:=[{', '.join(RECORDED)}]",
        "-p", f"output_dir:={bag}"], log)
    try:
        # Every topic discovered and subscribed by the recorder before anything is sent.
        assert spin_until(executor, lambda: all(p.get_subscription_count() > 0
                                                for p in game.pubs.values()),
                          START_TIMEOUT_S), log.read_text()
        game.start()
        game.node.create_timer(0.25, lambda: snapshots.append((time.time_ns(),
                                                               mcap.read_bytes())))
        spin_until(executor, lambda: False, RECORD_S)
        assert recorder.poll() is None, log.read_text()
        t_kill = time.time_ns()
        sigkill(recorder)
        game.stop()
    finally:
        stop(recorder)
        executor.shutdown()
        game.node.destroy_node()

    assert not (bag / "metadata.yaml").exists()  # really never closed
    msgs = recovered(bag)
    assert [m.timestamp_ns for m in msgs] == sorted(m.timestamp_ns for m in msgs)
    lost = losses(msgs, ns, game.sent, t_kill)
    worst = dict(lost)
    for i, (t_ns, data) in enumerate(snapshots):
        snap = tmp_path / f"snapshot{i}"
        snap.mkdir()
        (snap / mcap.name).write_bytes(data)
        for topic, seconds in losses(recovered(snap), ns, game.sent, t_ns).items():
            worst[topic] = max(worst[topic], seconds)
    print(f"lost at the SIGKILL [s]: {lost}; worst of {len(snapshots)} moments: {worst}")
    assert len(snapshots) >= 8
    assert max(worst.values()) <= MAX_LOSS_S, worst
    for topic, rate in RECORDED.items():
        kept = sum(m.topic == f"{ns}/{topic}" for m in msgs)
        assert kept >= (RECORD_S - MAX_LOSS_S) * rate * 0.8, (topic, kept, game.sent[topic])
    assert bags.bag_summary(bag) == {
        f"{ns}/{topic}": (msgtype, sum(m.topic == f"{ns}/{topic}" for m in msgs))
        for topic, msgtype in (("odom", "nav_msgs/msg/Odometry"),
                               ("balls/odom", "nav_msgs/msg/Odometry"),
                               ("cmd_vel", "geometry_msgs/msg/Twist"))}

    out = tmp_path / "data.npz"
    with pytest.warns(bags.BagRecoveredWarning):
        code = cli_main(["dataset", "--bag", str(bag), "--namespace", ns, "--out", str(out)])
    assert code == 0
    with np.load(out) as data:
        rows, commands = len(data["features"]), data["commands"]
    odoms = sum(m.topic == f"{ns}/odom" for m in msgs)
    expected_rows = odoms * 10.0 / RECORDED["odom"]  # rows at the 10 Hz control rate
    assert expected_rows - 2 <= rows <= expected_rows + 1, (rows, odoms)
    assert np.count_nonzero(commands) > 0  # the recorded commands label the rows


# -- 4. a second graph on the same domain ------------------------------------------------------


@pytest.mark.parametrize("other", [DodgeSim, DodgePolicy])
def test_sim_refuses_to_start_a_second_graph_on_the_domain(ros_context, monkeypatch, capsys,
                                                            other):
    # Generous discovery bound for a loaded machine; the guard returns as soon as it sees it.
    monkeypatch.setattr(graph_guard, "DISCOVERY_S", 10.0)
    domain = os.environ["ROS_DOMAIN_ID"]  # conftest's, inherited by every context here
    node = other(context=ros_context)  # the other graph's node, not spun: discovery suffices
    try:
        with pytest.raises(RuntimeError) as refused:
            run_sim(SimOptions(duration=1.0))
        message = str(refused.value)
        assert f"ROS_DOMAIN_ID={domain}" in message and f"/{node.get_name()}" in message
        assert "\n" not in message and "transition" not in message

        code = cli_main(["sim", "--duration", "1"])
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if "error" in line]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
        assert lines[0].startswith("dodge-lstm sim: error: ")
        assert f"ROS_DOMAIN_ID={domain}" in lines[0]
    finally:
        node.destroy_node()
        node = None  # as above: not kept in the graph by a failure's traceback


def test_the_guard_looks_only_at_the_graph_nodes_in_its_namespace(ros_context):
    """Unrelated nodes, and the graph's names in another namespace, are no second graph; the
    same check does see them (it refuses when asked about them)."""
    ns = "/guarded"
    others = [rclpy.create_node("dodge_sim", namespace="/robot2", context=ros_context),
              rclpy.create_node("ball_features", namespace=ns, context=ros_context)]
    context = Context()
    rclpy.init(args=["--ros-args", "-r", f"__ns:={ns}"], context=context)
    try:
        with pytest.raises(RuntimeError, match=f"{ns}/ball_features found"):
            graph_guard.check_no_other_graph(context, timeout_s=10.0, names=["ball_features"])
        graph_guard.check_no_other_graph(context, timeout_s=0.5)
    finally:
        rclpy.try_shutdown(context=context)
        for node in others:
            node.destroy_node()


def test_a_graph_this_process_ran_before_is_no_other_graph(ros_context):
    """A second `run_sim` in one process (the tests, a notebook) must start. The policy is a
    LifecycleNode, which rclpy would keep on the graph after destroy_node() until a garbage
    collection; nothing collects here."""
    import gc

    gc.disable()  # no collection by chance between the two steps
    try:
        context = Context()
        rclpy.init(context=context)
        policy = DodgePolicy(context=context)
        policy.destroy_node()
        rclpy.try_shutdown(context=context)
        del policy
        graph_guard.check_no_other_graph(ros_context, timeout_s=0.5)
    finally:
        gc.enable()


# Every node an in-process run makes, except ball_features: the feature node SIGKILLed by the
# test above may still be listed (Fast DDS lease, ~20 s), and it is no LifecycleNode anyway.
RUN_NODES = ("dodge_sim", "ball_spawner", "dodge_policy", "dodge_markers", "dodge_monitor",
             "dodge_bringup")


@pytest.mark.parametrize("how", ["finished", "markers refused", "policy refused"])
def test_a_run_leaves_no_graph_node_on_the_domain(ros_context, tmp_path, how):
    """After run_sim returns (or raises), another process must not see its nodes: the CI run
    that had a subprocess `dodge-lstm sim` refused as "a second graph" by an in-process run's
    DodgePolicy, kept alive by a callback the executor had queued. The probe stands for that
    other process (its own context, so its own DDS participant); nothing here collects
    garbage, so only what the run itself frees can leave the graph.

    "markers refused": the markers node refuses a string for `lifetime` after the policy node
    (a LifecycleNode, whose rcl node rclpy leaves to the garbage collector) exists; the policy
    must go too, and the half-made markers node. "policy refused": the policy itself is the
    half-made node. Both keep the traceback, as a notebook does: its frames hold what was made.
    """
    gc.collect()  # what earlier tests left is not this run's
    before = {id(o) for o in gc.get_objects() if isinstance(o, Node)}
    gc.disable()
    try:
        if how == "finished":
            run_sim(SimOptions(duration=1.0, policy="lstm", lockstep=True))
        else:
            node, name, value = (("dodge_markers", "lifetime", "long") if how == "markers refused"
                                 else ("dodge_policy", "rate_hz", "fast"))
            params = tmp_path / "params.yaml"
            params.write_text(f"{node}:\n  ros__parameters:\n    {name}: {value}\n")
            with pytest.raises(ValueError, match=name) as refused:
                run_sim(SimOptions(duration=1.0, policy="lstm", params_file=str(params)))
            assert refused.traceback
        # A node object may outlive the run (a traceback holds it) but must be destroyed.
        undestroyed = [o.get_name() for o in gc.get_objects()
                       if isinstance(o, Node) and id(o) not in before and _has_handle(o)]
        assert undestroyed == [], f"run_sim left nodes undestroyed: {undestroyed}"
        seen = _seen_on_the_domain(ros_context, RUN_NODES)
        assert seen == [], f"{seen} still on the domain after run_sim returned"
    finally:
        gc.enable()


def _seen_on_the_domain(context: Any, names: tuple[str, ...], seconds: float = 2.0) -> list[str]:
    """Which of `names` a probe node on `context` (its own DDS participant) sees at any moment
    of `seconds`; Fast DDS discovers a live local participant in ~0.1 s."""
    probe = rclpy.create_node("dodge_probe", context=context)
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.update(graph_guard.graph_nodes_seen(probe, names))
        time.sleep(0.05)  # polling the graph cache: there is no event for "nothing appeared"
    probe.destroy_node()
    return sorted(seen)


def _has_handle(node: Node) -> bool:
    """False once destroy_node() has been called on `node` (its handle refuses every use)."""
    try:
        node.get_name()
    except InvalidHandle:
        return False
    return True


def test_a_node_refusing_its_parameters_leaves_nothing_on_the_graph(ros_context):
    """A constructor that raises after its rcl node exists (a wrong type for a declared
    parameter) must take the node off the graph, even while its caller keeps the traceback and
    the context lives on (a notebook, this test): the half-made node is no running graph."""
    from dodge_lstm.ros.nodes.expert_node import ExpertDriver
    from dodge_lstm.ros.nodes.features_node import BallFeatures
    from dodge_lstm.ros.nodes.markers_node import DodgeMarkers
    from dodge_lstm.ros.nodes.recorder_node import RecorderNode

    refusals = [(DodgeSim, "real_time_factor", "x"), (BallSpawner, "seed", "x"),
                (BallFeatures, "ball_timeout", "x"), (DodgePolicy, "rate_hz", "x"),
                (ExpertDriver, "stamped", "x"), (DodgeMarkers, "lifetime", "x"),
                (RecorderNode, "output_dir", 5)]
    kept = []  # the tracebacks, with the half-made nodes in their frames
    for cls, name, value in refusals:
        with pytest.raises(Exception, match=name) as refused:
            cls(context=ros_context, parameter_overrides=[Parameter(name, value=value)])
        kept.append(refused)
    names = ("dodge_sim", "ball_spawner", "ball_features", "dodge_policy", "expert_driver",
             "dodge_markers", "dodge_recorder")
    seen = _seen_on_the_domain(ros_context, names)
    assert len(kept) == len(refusals)
    assert seen == [], f"half-made {seen} still on the graph"


def test_a_callback_that_raises_ends_the_node_with_its_traceback_and_exit_1(tmp_path):
    """`node_main.run_node`: an exception in a callback stops the node with the traceback and a
    non-zero exit code. Plausible bug (it happened): the spin thread dies, the main thread
    returns normally, the traceback races the exit and is cut, and the process exits 0, so
    `ros2 launch` reports "finished cleanly" for a node that crashed."""
    script = tmp_path / "boom.py"
    script.write_text(
        "from rclpy.executors import SingleThreadedExecutor\n"
        "from rclpy.node import Node\n"
        "from dodge_lstm.ros.node_main import run_node\n"
        "class Boom(Node):\n"
        "    def __init__(self):\n"
        "        super().__init__('boom')\n"
        "        self.create_timer(0.05, self.fire)\n"
        "    def fire(self):\n"
        "        raise RuntimeError('boom from a callback')\n"
        "run_node(Boom, SingleThreadedExecutor)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1, run
    assert "RuntimeError: boom from a callback" in run.stderr
    assert "in fire" in run.stderr  # the whole traceback, down to the callback
