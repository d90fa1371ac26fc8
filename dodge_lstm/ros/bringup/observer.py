"""The run's measurements, taken from outside the graph through its topics only.

Threading: `GraphObserver` is spun by the same single-threaded executor as the bringup's own
node (and, in-process, the graph's nodes), so its callbacks and the code reading its counters
never run at the same time: no lock, no second thread, no GIL hand-over between executors.
Its timings do not depend on when its callbacks run either: they are DDS source timestamps,
the publication times of what the graph sent.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from nav_msgs.msg import Odometry
from rclpy.node import Node
from rclpy.serialization import deserialize_message
from rclpy.subscription import MessageInfo
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.core.ball_records import BallLog
from dodge_lstm.core.evaluation import ThreatTally
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.core.outcomes import ball_number
from dodge_lstm.ros.bringup.graph_executor import WithMessageInfo
from dodge_lstm.ros.cdr_peek import peek_odometry
from dodge_lstm.ros.messages import command_linear_x, command_type, msg_to_outcome
from dodge_lstm.ros.qos import EVENT_QOS, STATE_QOS, WINDOW_QOS

MAX_SAMPLES = 6000

# Jitter in steady state: skip the first 2 s (a late first window answered next to a watchdog
# zero, first-call costs of the first latency report).
JITTER_WARMUP_S = 2.0


def _percentile(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


def _gaps_ms(stamps_ns: Iterable[int]) -> np.ndarray:
    """Intervals between consecutive stamps, in ms (in publication order)."""
    return np.diff(np.sort(np.array(stamps_ns, dtype=np.float64))) / 1e6


def window_to_twist_ms(window_ns: Iterable[int], twist_ns: Iterable[int]) -> np.ndarray:
    """For each window, the delay until the first Twist published after it (and before the next
    window); windows nobody answered in time add nothing here."""
    windows = np.sort(np.array(window_ns, dtype=np.int64))
    twists = np.sort(np.array(twist_ns, dtype=np.int64))
    if not windows.size or not twists.size:
        return np.zeros(0)
    first = np.searchsorted(twists, windows, side="left")
    ok = first < twists.size
    nxt = np.append(windows[1:], np.iinfo(np.int64).max)
    answered = ok & (twists[np.minimum(first, twists.size - 1)] < nxt)
    return (twists[first[answered]] - windows[answered]) / 1e6


class GraphObserver(Node):
    """Watches the graph: ticks, ball outcomes, Twists, window -> Twist latency and the policy's
    diagnostics. Runs on the wall clock (no use_sim_time): it times the graph from outside."""

    def __init__(self, stamped: bool = False, label_topic: str | None = None,
                 ball_log: BallLog | None = None, watch_balls: bool = False,
                 period_s: float = 0.1, **kwargs: Any) -> None:
        """`ball_log` gets every ball counted (where it was first seen, how it ended);
        `watch_balls` counts thrown balls from `balls/odom` (a simulator that throws its own
        balls sends no `balls/spawn`); `period_s` is the simulator's tick, for tick numbers."""
        super().__init__("dodge_monitor", **kwargs)
        self.ball_log = ball_log
        self.period_ns = round(period_s * 1e9)
        self.seen: set[str] = set()
        self.label_topic = label_topic
        self.label_msgs = 0
        """Shadow answers (TwistStamped on `label_topic`) seen while counting: ~one per tick."""
        self.counting = False
        self.tally = ThreatTally()
        self.twists = 0
        self.nonfinite_twists = 0  # counted whether counting or not: none may ever be sent
        # Bounded: a long (lockstep) run must not grow the observer; timing statistics cover
        # the last MAX_SAMPLES stamps (10 minutes at 10 Hz).
        self.window_src_ns: deque[int] = deque(maxlen=MAX_SAMPLES)
        self.twist_src_ns: deque[int] = deque(maxlen=MAX_SAMPLES)
        self.odom_src_ns: deque[int] = deque(maxlen=MAX_SAMPLES)
        self.ticks = 0
        """Simulator ticks seen since counting started (one `odom` per tick)."""
        self.diagnostics: dict[str, float] = {}
        self.diagnostics_count = 0
        self.policy_error: str | None = None
        """The policy's first ERROR diagnostic (it stopped answering windows), if any."""
        self.sim_diagnostics: dict[str, float] = {}
        self.max_balls: int | None = None
        """Count at most this many balls (the first ones resolved), for `--balls N` runs."""
        self.create_subscription(String, "balls/outcome", self.on_outcome, EVENT_QOS)
        self.create_subscription(command_type(stamped), "cmd_vel",
                                 WithMessageInfo(self.on_twist), 50)
        # Raw (serialized) where only when, or which ball, matters: see ros.cdr_peek.
        self.create_subscription(Float32MultiArray, "dodge/window",
                                 WithMessageInfo(self.on_window), WINDOW_QOS, raw=True)
        self.create_subscription(DiagnosticArray, "diagnostics", self.on_diag, 10)
        self.create_subscription(Odometry, "odom", WithMessageInfo(self.on_odom), STATE_QOS,
                                 raw=True)
        # Every ball thrown while counting must come back as an outcome (or still be flying).
        self.thrown = 0
        self.flying: set[str] = set()
        self.create_subscription(Odometry, "balls/spawn", self.on_spawn, EVENT_QOS)
        self.watch_balls = watch_balls
        if ball_log is not None or watch_balls:
            self.create_subscription(Odometry, "balls/odom", self.on_ball, STATE_QOS, raw=True)
        if label_topic is not None:
            self.create_subscription(command_type(True), label_topic, self.on_label, 50)

    def on_spawn(self, msg: Odometry) -> None:
        if self.counting:
            self.thrown += 1
            self.flying.add(msg.child_frame_id)

    def on_ball(self, data: bytes) -> None:
        """A ball's first appearance: thrown (when the simulator throws them) and logged. Only
        a first appearance is deserialized."""
        peeked = peek_odometry(data)
        if peeked is not None and peeked.child_frame_id in self.seen:
            return
        msg = deserialize_message(data, Odometry)
        name = msg.child_frame_id
        if name in self.seen:
            return
        self.seen.add(name)
        if self.watch_balls and self.counting:
            self.thrown += 1
            self.flying.add(name)
        if self.ball_log is not None and (number := ball_number(name)) is not None:
            p, v = msg.pose.pose.position, msg.twist.twist.linear
            self.ball_log.spawned(0, number, round(stamp_ns(msg) / self.period_ns),
                                  (p.x, p.y), (v.x, v.y))

    def start_counting(self) -> None:
        """Count from now on (after bringup, so start-up transients stay out)."""
        self.counting = True

    def stop_counting(self) -> None:
        """Freeze the counts (teardown traffic stays out)."""
        self.counting = False

    def on_odom(self, data: bytes, info: MessageInfo) -> None:
        """Simulator ticks: the clock of the run and the jitter reference."""
        if self.counting:
            self.ticks += 1
            self.odom_src_ns.append(info["source_timestamp"])

    def on_outcome(self, msg: String) -> None:
        if not self.counting:
            return
        try:
            out = msg_to_outcome(msg)
        except ValueError:
            self.get_logger().warning(f"malformed outcome ignored: {msg.data!r}")
            return
        self.flying.discard(str(out["ball"]))
        if out["outcome"] == "rejected":
            return  # a refused spawn is no ball
        if self.max_balls is not None and self.tally.balls >= self.max_balls:
            return
        self.tally.add(out["outcome"] == "hit", bool(out["threat"]))
        self.seen.discard(str(out["ball"]))
        number = ball_number(str(out["ball"]))
        if self.ball_log is not None and number is not None and self.ball_log.knows(0, number):
            self.ball_log.resolved(0, number, out["outcome"] == "hit",
                                   bool(out["threat"]),
                                   round(float(out["t"]) * 1e9 / self.period_ns))

    def on_window(self, data: bytes, info: MessageInfo) -> None:
        if self.counting:
            self.window_src_ns.append(info["source_timestamp"])

    def on_twist(self, msg: Any, info: MessageInfo) -> None:
        if not math.isfinite(command_linear_x(msg)):
            self.nonfinite_twists += 1
        if self.counting:
            self.twists += 1
            self.twist_src_ns.append(info["source_timestamp"])

    def on_label(self, msg: Any) -> None:
        if self.counting:
            self.label_msgs += 1

    def on_diag(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "dodge_policy":
                self.diagnostics = {kv.key: float(kv.value) for kv in status.values}
                self.diagnostics_count += 1
                if status.level == DiagnosticStatus.ERROR and self.policy_error is None:
                    self.policy_error = status.message  # the first: it names the cause
            elif status.name == "dodge_sim":
                self.sim_diagnostics = {kv.key: float(kv.value) for kv in status.values}

    def summary(self, period_s: float, real_time_factor: float, wall_seconds: float,
                interrupted: bool) -> dict[str, Any]:
        """Counts, rates and latency percentiles of the run; `period_s` is the simulator's
        control period (simulated seconds per tick)."""
        nominal_ms = 1e3 * period_s / real_time_factor
        lat = window_to_twist_ms(self.window_src_ns, self.twist_src_ns)
        gaps = _gaps_ms(self.twist_src_ns)
        jitter = np.abs(gaps[round(JITTER_WARMUP_S / period_s):] - nominal_ms)
        odom_jitter = np.abs(_gaps_ms(self.odom_src_ns) - nominal_ms)
        # Twists per simulated second: their wall-clock span scaled by the real-time factor.
        span = gaps.sum() / 1e3 * real_time_factor
        diag = dict(self.diagnostics)
        out: dict[str, Any] = {
            "balls": self.tally.balls,
            "hits": self.tally.hits,
            "threat_balls": self.tally.threat_balls,
            "threat_hits": self.tally.threat_hits,
            "threat_dodge_rate": self.tally.threat_dodge_rate,
            "threat_dodge_ci95": self.tally.threat_dodge_ci95,
            "twist_msgs": self.twists,
            "twist_rate_hz": (self.twists - 1) / span if span > 0 else 0.0,
            "nonfinite_twists": self.nonfinite_twists,
            "inference_p50_us": diag.get("inference_p50_us", math.nan),
            "inference_p99_us": diag.get("inference_p99_us", math.nan),
            "window_to_twist_p50_ms": _percentile(lat, 50),
            "window_to_twist_p99_ms": _percentile(lat, 99),
            "twist_period_jitter_p50_ms": _percentile(jitter, 50),
            "twist_period_jitter_p99_ms": _percentile(jitter, 99),
            "odom_period_jitter_p99_ms": _percentile(odom_jitter, 99),
            "sim_seconds": self.ticks * period_s,
            "wall_seconds": wall_seconds,
            "real_time_factor": real_time_factor,
            "interrupted": interrupted,
        }
        if diag:
            out["rejected_windows"] = int(diag.get("rejected_nan", 0)
                                          + diag.get("rejected_malformed", 0))
            out["stale_zeros"] = int(diag.get("stale_zeros", 0))
        if self.policy_error is not None:
            out["policy_error"] = self.policy_error
        if self.label_topic is not None:
            out["label_msgs"] = self.label_msgs
        out["balls_thrown"] = self.thrown
        out["balls_unresolved"] = len(self.flying)  # thrown while counting, still flying
        if "lockstep_timeouts" in self.sim_diagnostics:
            out["lockstep_timeouts"] = int(self.sim_diagnostics["lockstep_timeouts"])
        return out
