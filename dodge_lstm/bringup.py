"""Launch-free bringup: the `sim.launch.py` graph in one process, for machines without `launch`.

`dodge-lstm sim` builds the same nodes with the same parameters file as `sim.launch.py`, drives
the policy node through `configure` and `activate` over its real lifecycle services (as the
launch file's event handlers do), runs for `--duration` simulated seconds, deactivates it, and
prints a summary. A monitor node in its own executor thread counts outcomes and Twists and
times window -> Twist latency from the outside, through DDS.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.evaluation import wilson_interval
from dodge_lstm.nodes.features_node import WINDOW_QOS
from dodge_lstm.nodes.messages import msg_to_outcome
from dodge_lstm.nodes.sim_node import EVENT_QOS, STATE_QOS
from dodge_lstm.resources import default_params_file

SERVICE_TIMEOUT_S = 10.0


@dataclass
class SimOptions:
    """What `dodge-lstm sim` (and the launch file's arguments) choose."""

    duration: float = 30.0
    policy: str = "lstm"
    timesteps: int = 5
    units: int = 15
    model: str = ""
    record: str = ""
    params_file: str = ""
    real_time_factor: float = 1.0
    seed: int = 0
    extra_args: list[str] = field(default_factory=list)


class Monitor(Node):
    """Watches the graph from outside: outcomes, Twists, window -> Twist latency, diagnostics."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("dodge_monitor", **kwargs)
        self.lock = threading.Lock()
        self.balls = self.hits = self.threat_balls = self.threat_hits = 0
        self.twists = 0
        self.nonfinite_twists = 0
        self.pending_window_ns: int | None = None
        self.window_to_twist_ns: list[int] = []
        self.twist_wall_ns: list[int] = []
        self.odom_wall_ns: list[int] = []
        self.diagnostics: dict[str, float] = {}
        self.counting = False
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Twist, "cmd_vel", self.on_twist, 50)
        self.create_subscription(Float32MultiArray, "dodge/window", self.on_window, WINDOW_QOS)
        self.create_subscription(DiagnosticArray, "diagnostics", self.on_diag, 10)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    def on_odom(self, msg: Odometry) -> None:
        """Simulator ticks as seen from outside: the reference for the Twist jitter."""
        if self.counting:
            self.odom_wall_ns.append(time.perf_counter_ns())

    def start_counting(self) -> None:
        """Count from now on; a window seen before this is nobody's latency."""
        with self.lock:
            self.pending_window_ns = None
            self.counting = True

    def on_outcome(self, msg: String) -> None:
        if not self.counting:
            return
        out = msg_to_outcome(msg)
        hit = out["outcome"] == "hit"
        with self.lock:
            self.balls += 1
            self.hits += hit
            self.threat_balls += bool(out["threat"])
            self.threat_hits += hit and bool(out["threat"])

    def on_window(self, msg: Float32MultiArray) -> None:
        with self.lock:
            self.pending_window_ns = time.perf_counter_ns()

    def on_twist(self, msg: Twist) -> None:
        now = time.perf_counter_ns()
        with self.lock:
            if not math.isfinite(msg.linear.x):
                self.nonfinite_twists += 1
            if not self.counting:
                return
            self.twists += 1
            self.twist_wall_ns.append(now)
            if self.pending_window_ns is not None:
                self.window_to_twist_ns.append(now - self.pending_window_ns)
                self.pending_window_ns = None

    def on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "dodge_policy":
                with self.lock:
                    self.diagnostics = {kv.key: float(kv.value) for kv in status.values}


def _call(executor: SingleThreadedExecutor, client: Any, request: Any) -> Any:
    """Call a service with a bounded wait, spinning the graph meanwhile."""
    if not client.wait_for_service(timeout_sec=SERVICE_TIMEOUT_S):
        raise RuntimeError(f"service {client.srv_name} did not come up")
    future = client.call_async(request)
    executor.spin_until_future_complete(future, timeout_sec=SERVICE_TIMEOUT_S)
    if not future.done():
        raise RuntimeError(f"service {client.srv_name} did not answer")
    return future.result()


def change_state(executor: SingleThreadedExecutor, client: Any, transition: int) -> bool:
    """Trigger one lifecycle transition through `<node>/change_state`."""
    return bool(_call(executor, client, ChangeState.Request(
        transition=Transition(id=transition))).success)


def get_state(executor: SingleThreadedExecutor, client: Any) -> str:
    """Current lifecycle state label through `<node>/get_state`."""
    return str(_call(executor, client, GetState.Request()).current_state.label)


def ros_args(opts: SimOptions) -> list[str]:
    """Context arguments: the parameters file (applied by node name) and global overrides."""
    params = Path(opts.params_file) if opts.params_file else default_params_file()
    if not params.is_file():
        raise FileNotFoundError(f"parameters file {params} not found")
    return ["--ros-args", "--params-file", str(params), *opts.extra_args]


def run_sim(opts: SimOptions) -> dict[str, Any]:
    """Bring the graph up, run it, tear it down; returns the summary dictionary."""
    from dodge_lstm.nodes.expert_node import ExpertDriver
    from dodge_lstm.nodes.features_node import BallFeatures
    from dodge_lstm.nodes.policy_node import DodgePolicy
    from dodge_lstm.nodes.sim_node import DodgeSim
    from dodge_lstm.nodes.spawner_node import BallSpawner

    if opts.policy not in ("lstm", "expert"):
        raise ValueError(f"policy must be lstm or expert, got {opts.policy!r}")
    # The monitor spins in its own thread; with CPython's default 5 ms GIL switch interval a
    # callback ready in one executor can wait that long for the other thread's turn, which
    # shows up directly as command jitter. 0.5 ms keeps the two executors interleaved.
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(5e-4)
    context = Context()
    rclpy.init(args=ros_args(opts), context=context)
    sim_time = [Parameter("use_sim_time", value=True)]
    common = {"context": context}
    nodes: list[Node] = []
    executor = SingleThreadedExecutor(context=context)
    monitor_exec = SingleThreadedExecutor(context=context)
    monitor_thread: threading.Thread | None = None
    summary: dict[str, Any] = {}
    try:
        sim = DodgeSim(parameter_overrides=[
            Parameter("real_time_factor", value=opts.real_time_factor)], **common)
        # The spawner and the feature node run on message stamps, not on their clocks: without
        # use_sim_time they skip a /clock subscription each (fewer callbacks per tick, less
        # jitter). The policy's staleness timer does need sim time.
        spawner = BallSpawner(parameter_overrides=[Parameter("seed", value=opts.seed)], **common)
        nodes += [sim, spawner]
        policy_node: DodgePolicy | None = None
        if opts.policy == "lstm":
            features = BallFeatures(parameter_overrides=[
                Parameter("timesteps", value=opts.timesteps)], **common)
            policy_node = DodgePolicy(parameter_overrides=[
                *sim_time, Parameter("timesteps", value=opts.timesteps),
                Parameter("units", value=opts.units), Parameter("model", value=opts.model),
                Parameter("report_period", value=1.0)], **common)
            nodes += [features, policy_node]
        else:
            nodes.append(ExpertDriver(parameter_overrides=sim_time, **common))
        recorder = None
        if opts.record:
            from dodge_lstm.nodes.recorder_node import RecorderNode

            # Wall-clock receive stamps (no use_sim_time): they keep the arrival order that
            # aligns cmd_vel with odom when the bag becomes a dataset (bag_dataset).
            recorder = RecorderNode(parameter_overrides=[
                Parameter("output_dir", value=opts.record)], **common)
            nodes.append(recorder)
        monitor = Monitor(**common)  # wall clock: it times the graph from outside
        for node in nodes:
            executor.add_node(node)
        monitor_exec.add_node(monitor)
        monitor_thread = threading.Thread(target=monitor_exec.spin, daemon=True)
        monitor_thread.start()

        client_node = Node("dodge_bringup", **common)
        executor.add_node(client_node)
        state = "unmanaged"
        if policy_node is not None:
            change = client_node.create_client(ChangeState, "dodge_policy/change_state")
            query = client_node.create_client(GetState, "dodge_policy/get_state")
            if not change_state(executor, change, Transition.TRANSITION_CONFIGURE):
                raise RuntimeError("dodge_policy failed to configure (see its log above)")
            if not change_state(executor, change, Transition.TRANSITION_ACTIVATE):
                raise RuntimeError("dodge_policy failed to activate")
        monitor.start_counting()
        wall_start = time.perf_counter()
        start_tick = sim.arena.tick
        ticks = round(opts.duration * sim.cfg.control_rate_hz)
        wall_limit = 3.0 * opts.duration / opts.real_time_factor + 30.0
        interrupted = False
        try:
            while sim.arena.tick - start_tick < ticks:
                executor.spin_once(timeout_sec=0.1)
                if time.perf_counter() - wall_start > wall_limit:
                    raise RuntimeError(f"simulation did not reach {opts.duration} s in "
                                       f"{wall_limit:.0f} s of wall time")
        except KeyboardInterrupt:
            interrupted = True
        monitor.counting = False
        wall = time.perf_counter() - wall_start
        sim_seconds = (sim.arena.tick - start_tick) * sim.cfg.dt
        if policy_node is not None:
            state = get_state(executor, query)
            change_state(executor, change, Transition.TRANSITION_DEACTIVATE)
            policy_stats = policy_node.stats()
        bag = recorder.stop_bag() if recorder is not None else None
        with monitor.lock:
            lat = np.array(monitor.window_to_twist_ns, dtype=np.float64) / 1e6
            # Period jitter of the Twist stream on the wall clock: |interval - period / rtf|.
            nominal_ms = 1e3 * sim.cfg.dt / opts.real_time_factor
            gaps = np.diff(np.array(monitor.twist_wall_ns, dtype=np.float64)) / 1e6
            jitter = np.abs(gaps - nominal_ms)
            odom_gaps = np.diff(np.array(monitor.odom_wall_ns, dtype=np.float64)) / 1e6
            odom_jitter = np.abs(odom_gaps - nominal_ms)
            diag = dict(monitor.diagnostics)
            # Twists per simulated second: wall-clock span scaled by the real-time factor.
            wall_span = (gaps.sum() / 1e3) if gaps.size else 0.0
            span = wall_span * opts.real_time_factor
            dodged = monitor.threat_balls - monitor.threat_hits
            summary = {
                "policy": opts.policy if policy_node is None
                else f"lstm:{policy_node.model_path.name}",
                "balls": monitor.balls,
                "hits": monitor.hits,
                "threat_balls": monitor.threat_balls,
                "threat_hits": monitor.threat_hits,
                "threat_dodge_rate": dodged / monitor.threat_balls if monitor.threat_balls
                else float("nan"),
                "threat_dodge_ci95": list(wilson_interval(dodged, monitor.threat_balls)),
                "twist_msgs": monitor.twists,
                "twist_rate_hz": (monitor.twists - 1) / span if span > 0 else 0.0,
                "nonfinite_twists": monitor.nonfinite_twists,
                "policy_state": state,
                "inference_p50_us": diag.get("inference_p50_us", float("nan")),
                "inference_p99_us": diag.get("inference_p99_us", float("nan")),
                "window_to_twist_p50_ms": float(np.percentile(lat, 50)) if lat.size else None,
                "window_to_twist_p99_ms": float(np.percentile(lat, 99)) if lat.size else None,
                "twist_period_jitter_p50_ms": float(np.percentile(jitter, 50))
                if jitter.size else None,
                "twist_period_jitter_p99_ms": float(np.percentile(jitter, 99))
                if jitter.size else None,
                "odom_period_jitter_p99_ms": float(np.percentile(odom_jitter, 99))
                if odom_jitter.size else None,
                "sim_seconds": sim_seconds,
                "wall_seconds": wall,
                "real_time_factor": opts.real_time_factor,
                "interrupted": interrupted,
            }
        if policy_node is not None:
            summary["rejected_windows"] = (policy_stats["rejected_nan"]
                                           + policy_stats["rejected_malformed"])
            summary["stale_zeros"] = policy_stats["stale_zeros"]
        if bag is not None:
            summary["bag"] = bag
        return summary
    finally:
        monitor_exec.shutdown()
        if monitor_thread is not None:
            monitor_thread.join(timeout=5.0)
        executor.shutdown()
        for node in nodes:
            node.destroy_node()
        rclpy.try_shutdown(context=context)
        sys.setswitchinterval(previous_interval)


def format_summary(s: dict[str, Any]) -> str:
    """Readable table of a `run_sim` summary."""
    return "\n".join(f"{k:<24} {json.dumps(v) if isinstance(v, (list, dict)) else v}"
                     for k, v in s.items())


def summary_json(s: dict[str, Any]) -> str:
    """One JSON object (NaN written as null)."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in s.items()}
    return json.dumps(clean)


