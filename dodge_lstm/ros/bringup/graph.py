"""Launch-free bringup: the `sim.launch.py` graph for machines without `launch`.

`dodge-lstm sim` starts the same nodes with the same parameters file as `sim.launch.py`, in
this process or one process per node (as `ros2 launch` does), drives the policy node through
`configure` and `activate` over its real lifecycle services (as the launch file's event handlers
do), runs for `--duration` simulated seconds, deactivates it, and prints a summary. A monitor
node in its own executor thread measures the run from outside, through topics only.
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import Twist
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from nav_msgs.msg import Odometry
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.subscription import MessageInfo
from std_msgs.msg import Float32MultiArray, String
from std_srvs.srv import Trigger

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.evaluation import wilson_interval
from dodge_lstm.resources import default_params_file
from dodge_lstm.ros.messages import msg_to_outcome
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS, WINDOW_QOS

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
    processes: bool = False
    extra_args: list[str] = field(default_factory=list)

    @property
    def params_path(self) -> Path:
        """The parameters file in use."""
        return Path(self.params_file) if self.params_file else default_params_file()

    @cached_property
    def dt(self) -> float:
        """The simulator's control period, as the parameters file sets it (read once)."""
        try:
            params = yaml.safe_load(self.params_path.read_text()) or {}
            rate = params["dodge_sim"]["ros__parameters"]["control_rate_hz"]
        except (OSError, KeyError, TypeError):
            rate = ArenaConfig().control_rate_hz
        return 1.0 / float(rate)


class Monitor(Node):
    """Watches the graph from outside: ticks, outcomes, Twists, window -> Twist latency and the
    policy's diagnostics. The run's summary is computed from what it saw."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("dodge_monitor", **kwargs)
        self.lock = threading.Lock()
        self.balls = self.hits = self.threat_balls = self.threat_hits = 0
        self.twists = 0
        self.nonfinite_twists = 0
        # Publication times (DDS source timestamps, system clock) of what the graph published:
        # independent of when this node gets to run its callbacks.
        self.window_src_ns: list[int] = []
        self.twist_src_ns: list[int] = []
        self.odom_src_ns: list[int] = []
        self.diagnostics: dict[str, float] = {}
        self.diagnostics_count = 0
        self.counting = False
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(Twist, "cmd_vel", self.on_twist, 50)
        self.create_subscription(Float32MultiArray, "dodge/window", self.on_window, WINDOW_QOS)
        self.create_subscription(DiagnosticArray, "diagnostics", self.on_diag, 10)
        self.create_subscription(Odometry, "odom", self.on_odom, STATE_QOS)

    @property
    def ticks(self) -> int:
        """Simulator ticks seen since counting started (one `odom` per tick)."""
        return len(self.odom_src_ns)

    def start_counting(self) -> None:
        """Count from now on."""
        with self.lock:
            self.counting = True

    def on_odom(self, msg: Odometry, info: MessageInfo) -> None:
        """Simulator ticks: the clock of the run and the jitter reference."""
        if self.counting:
            self.odom_src_ns.append(info["source_timestamp"])

    def on_outcome(self, msg: String) -> None:
        if not self.counting:
            return
        try:
            out = msg_to_outcome(msg)
        except ValueError:
            self.get_logger().warning(f"malformed outcome ignored: {msg.data!r}")
            return
        if out["outcome"] not in ("hit", "passed"):
            return  # a refused spawn is no ball
        hit = out["outcome"] == "hit"
        with self.lock:
            self.balls += 1
            self.hits += hit
            self.threat_balls += bool(out["threat"])
            self.threat_hits += hit and bool(out["threat"])

    def on_window(self, msg: Float32MultiArray, info: MessageInfo) -> None:
        if self.counting:
            with self.lock:
                self.window_src_ns.append(info["source_timestamp"])

    def on_twist(self, msg: Twist, info: MessageInfo) -> None:
        with self.lock:
            if not math.isfinite(msg.linear.x):
                self.nonfinite_twists += 1
            if self.counting:
                self.twists += 1
                self.twist_src_ns.append(info["source_timestamp"])

    def window_to_twist_ms(self) -> np.ndarray:
        """For each window, the delay until the first Twist published after it (and before the
        next window); windows nobody answered in time add nothing here."""
        windows = np.sort(np.array(self.window_src_ns, dtype=np.int64))
        twists = np.sort(np.array(self.twist_src_ns, dtype=np.int64))
        if not windows.size or not twists.size:
            return np.zeros(0)
        first = np.searchsorted(twists, windows, side="left")
        ok = first < twists.size
        nxt = np.append(windows[1:], np.iinfo(np.int64).max)
        answered = ok & (twists[np.minimum(first, twists.size - 1)] < nxt)
        return (twists[first[answered]] - windows[answered]) / 1e6

    def on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "dodge_policy":
                with self.lock:
                    self.diagnostics = {kv.key: float(kv.value) for kv in status.values}
                    self.diagnostics_count += 1

    def summary(self, opts: SimOptions, wall_seconds: float, interrupted: bool,
                ) -> dict[str, Any]:
        """Counts, rates and latency percentiles of the run."""

        def pct(values: np.ndarray, q: float) -> float | None:
            return float(np.percentile(values, q)) if values.size else None

        with self.lock:
            nominal_ms = 1e3 * opts.dt / opts.real_time_factor
            lat = self.window_to_twist_ms()
            gaps = np.diff(np.sort(np.array(self.twist_src_ns, dtype=np.float64))) / 1e6
            # Jitter in steady state: skip the first 2 s (a late first window answered next to
            # a watchdog zero, first-call costs of the first latency report).
            warmup = round(2.0 / opts.dt)
            jitter = np.abs(gaps[warmup:] - nominal_ms)
            odom_jitter = np.abs(
                np.diff(np.sort(np.array(self.odom_src_ns, dtype=np.float64))) / 1e6
                - nominal_ms)
            # Twists per simulated second: their wall-clock span scaled by the real-time factor.
            span = gaps.sum() / 1e3 * opts.real_time_factor
            dodged = self.threat_balls - self.threat_hits
            diag = dict(self.diagnostics)
            out: dict[str, Any] = {
                "balls": self.balls,
                "hits": self.hits,
                "threat_balls": self.threat_balls,
                "threat_hits": self.threat_hits,
                "threat_dodge_rate": dodged / self.threat_balls if self.threat_balls
                else float("nan"),
                "threat_dodge_ci95": list(wilson_interval(dodged, self.threat_balls)),
                "twist_msgs": self.twists,
                "twist_rate_hz": (self.twists - 1) / span if span > 0 else 0.0,
                "nonfinite_twists": self.nonfinite_twists,
                "inference_p50_us": diag.get("inference_p50_us", float("nan")),
                "inference_p99_us": diag.get("inference_p99_us", float("nan")),
                "window_to_twist_p50_ms": pct(lat, 50),
                "window_to_twist_p99_ms": pct(lat, 99),
                "twist_period_jitter_p50_ms": pct(jitter, 50),
                "twist_period_jitter_p99_ms": pct(jitter, 99),
                "odom_period_jitter_p99_ms": pct(odom_jitter, 99),
                "sim_seconds": self.ticks * opts.dt,
                "wall_seconds": wall_seconds,
                "real_time_factor": opts.real_time_factor,
                "interrupted": interrupted,
            }
            if diag:
                out["rejected_windows"] = int(diag.get("rejected_nan", 0)
                                              + diag.get("rejected_malformed", 0))
                out["stale_zeros"] = int(diag.get("stale_zeros", 0))
            return out


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
    params = opts.params_path
    if not params.is_file():
        raise FileNotFoundError(f"parameters file {params} not found")
    return ["--ros-args", "--params-file", str(params), *opts.extra_args]


def _in_process_nodes(opts: SimOptions, context: Context) -> list[Node]:
    """The graph's nodes as objects in this process (one executor, one GIL)."""
    from dodge_lstm.ros.nodes.expert_node import ExpertDriver
    from dodge_lstm.ros.nodes.features_node import BallFeatures
    from dodge_lstm.ros.nodes.policy_node import DodgePolicy
    from dodge_lstm.ros.nodes.sim_node import DodgeSim
    from dodge_lstm.ros.nodes.spawner_node import BallSpawner

    sim_time = [Parameter("use_sim_time", value=True)]
    nodes: list[Node] = [
        DodgeSim(context=context, parameter_overrides=[
            Parameter("real_time_factor", value=opts.real_time_factor)]),
        # The spawner and the feature node run on message stamps, not on their clocks: without
        # use_sim_time they skip a /clock subscription each (fewer callbacks per tick).
        BallSpawner(context=context, parameter_overrides=[Parameter("seed", value=opts.seed)]),
    ]
    if opts.policy == "lstm":
        nodes.append(BallFeatures(context=context, parameter_overrides=[
            Parameter("timesteps", value=opts.timesteps)]))
        nodes.append(DodgePolicy(context=context, parameter_overrides=[
            *sim_time, Parameter("timesteps", value=opts.timesteps),
            Parameter("units", value=opts.units), Parameter("model", value=opts.model),
            Parameter("report_period", value=1.0)]))
    else:
        nodes.append(ExpertDriver(context=context, parameter_overrides=sim_time))
    if opts.record:
        from dodge_lstm.ros.nodes.recorder_node import RecorderNode

        # Wall-clock receive stamps (no use_sim_time): they keep the arrival order that aligns
        # cmd_vel with odom when the bag becomes a dataset (bag_dataset).
        nodes.append(RecorderNode(context=context, parameter_overrides=[
            Parameter("output_dir", value=opts.record)]))
    return nodes


def _node_commands(opts: SimOptions) -> dict[str, list[str]]:
    """One command line per node, as `ros2 launch` would start them (own process each)."""
    base = ros_args(opts)

    def node(module: str, *params: str) -> list[str]:
        extra = [arg for p in params for arg in ("-p", p)]
        return [sys.executable, "-m", f"dodge_lstm.ros.nodes.{module}", *base, *extra]

    cmds = {
        "dodge_sim": node("sim_node", f"real_time_factor:={opts.real_time_factor}"),
        "ball_spawner": node("spawner_node", f"seed:={opts.seed}"),
    }
    if opts.policy == "lstm":
        cmds["ball_features"] = node("features_node", f"timesteps:={opts.timesteps}")
        policy = ["use_sim_time:=true", f"timesteps:={opts.timesteps}", f"units:={opts.units}",
                  "report_period:=1.0"]
        if opts.model:
            policy.append(f"model:={opts.model}")
        cmds["dodge_policy"] = node("policy_node", *policy)
    else:
        cmds["expert_driver"] = node("expert_node", "use_sim_time:=true")
    if opts.record:
        cmds["dodge_recorder"] = node("recorder_node", f"output_dir:={opts.record}")
    return cmds


def _stop_processes(procs: dict[str, subprocess.Popen], timeout_s: float = 10.0,
                    ) -> dict[str, int]:
    """Ctrl-C every node (they publish their last words and close files), then wait."""
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + timeout_s
    codes = {}
    for name, proc in procs.items():
        try:
            codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes[name] = proc.wait()
    return codes


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_sim(opts: SimOptions) -> dict[str, Any]:
    """Bring the graph up, run it, tear it down; returns the summary dictionary.

    In-process (default) every node lives in this process; with `opts.processes` each node is
    its own process, as `ros2 launch` starts them. Either way the run is driven and measured
    only through ROS interfaces: lifecycle services, topics, the recorder's `~/stop`.
    """
    if opts.policy not in ("lstm", "expert"):
        raise ValueError(f"policy must be lstm or expert, got {opts.policy!r}")
    # The monitor spins in its own thread; with CPython's default 5 ms GIL switch interval a
    # callback ready in one executor can wait that long for the other thread's turn, which
    # shows up directly as command jitter. 0.5 ms keeps the executors interleaved.
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(5e-4)
    context = Context()
    rclpy.init(args=ros_args(opts), context=context)
    nodes: list[Node] = []
    procs: dict[str, subprocess.Popen] = {}
    logs = Path(tempfile.mkdtemp(prefix="dodge_sim_logs_")) if opts.processes else None
    executor = SingleThreadedExecutor(context=context)
    monitor_exec = SingleThreadedExecutor(context=context)
    monitor_thread: threading.Thread | None = None
    try:
        if opts.processes:
            assert logs is not None
            for name, cmd in _node_commands(opts).items():
                with (logs / f"{name}.log").open("w") as log:
                    procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        else:
            nodes = _in_process_nodes(opts, context)
        monitor = Monitor(context=context)  # wall clock: it times the graph from outside
        for node in nodes:
            executor.add_node(node)
        monitor_exec.add_node(monitor)
        monitor_thread = threading.Thread(target=monitor_exec.spin, daemon=True)
        monitor_thread.start()
        client = Node("dodge_bringup", context=context)
        executor.add_node(client)

        lifecycle = opts.policy == "lstm"
        if lifecycle:
            change = client.create_client(ChangeState, "dodge_policy/change_state")
            query = client.create_client(GetState, "dodge_policy/get_state")
            get_state(executor, query)  # answered both ways before transitions are sent
            for transition in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
                if not change_state(executor, change, transition):
                    hint = _log_tail(logs / "dodge_policy.log") if logs else "see its log above"
                    raise RuntimeError(f"dodge_policy failed transition {transition}:\n{hint}")
        monitor.start_counting()
        wall_start = time.perf_counter()
        ticks = round(opts.duration / opts.dt)
        wall_limit = 3.0 * opts.duration / opts.real_time_factor + 30.0
        interrupted = False
        try:
            while monitor.ticks < ticks:
                executor.spin_once(timeout_sec=0.1)
                if time.perf_counter() - wall_start > wall_limit:
                    raise RuntimeError(f"simulation did not reach {opts.duration} s in "
                                       f"{wall_limit:.0f} s of wall time")
                dead = [n for n, p in procs.items() if p.poll() is not None]
                if dead and logs is not None:
                    raise RuntimeError(f"{dead[0]} exited early:\n"
                                       + _log_tail(logs / f"{dead[0]}.log"))
        except KeyboardInterrupt:
            interrupted = True
        monitor.counting = False
        wall = time.perf_counter() - wall_start
        state = "unmanaged"
        if lifecycle:
            # One more report (every second) so its counters cover the whole run; bounded.
            diag_seen = monitor.diagnostics_count
            spin_deadline = time.monotonic() + 1.5 / opts.real_time_factor + 0.5
            while monitor.diagnostics_count == diag_seen and time.monotonic() < spin_deadline:
                executor.spin_once(timeout_sec=0.05)
            state = get_state(executor, query)
            change_state(executor, change, Transition.TRANSITION_DEACTIVATE)
        bag = None
        if opts.record:
            stop = client.create_client(Trigger, "dodge_recorder/stop")
            bag = json.loads(_call(executor, stop, Trigger.Request()).message)
        summary = monitor.summary(opts, wall, interrupted)
        model = Path(opts.model).name if opts.model else \
            f"lstm_t{opts.timesteps}_u{opts.units}.tflite"
        summary["policy"] = f"lstm:{model}" if lifecycle else "expert"
        summary["policy_state"] = state
        summary["mode"] = "processes" if opts.processes else "in-process"
        if bag is not None:
            summary["bag"] = bag
        if procs:
            summary["exit_codes"] = _stop_processes(procs)
            summary["logs"] = str(logs)
        return summary
    finally:
        if procs:
            _stop_processes(procs)
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
    return "\n".join(f"{k:<28} {json.dumps(v) if isinstance(v, (list, dict)) else v}"
                     for k, v in s.items())


def summary_json(s: dict[str, Any]) -> str:
    """One JSON object (NaN written as null)."""
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
             for k, v in s.items()}
    return json.dumps(clean)


