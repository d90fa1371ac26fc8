"""`dodge_policy`: the lifecycle node that turns feature windows into `cmd_vel` at 10 Hz.

Lifecycle (as in ros2/demos lifecycle_py):
- configure: resolve the model (`model`; else `models_dir/lstm_t<timesteps>_u<units>.tflite`
  if either is set; else `models_dir/default.tflite`), load it with the TFLite runtime and
  check it against `timesteps` (when set) and its metadata; on any problem log what to do and
  return FAILURE (the node stays unconfigured, fix and retry). On success it publishes the
  window the model takes on the latched `dodge/window_spec`: the feature node sizes its ring
  buffer from that, so the window shape has one source, the model.
- activate: start the 10 Hz control timer; every fresh window is answered at once.
- deactivate: stop the timer and publish one zero Twist.
- cleanup / shutdown: release the model, publisher and subscription.

Control: one command per control tick, whatever arrives on `dodge/window`. A valid window is
run through the model immediately and its command published at once (no latency from the
timer's phase) if the rate limit allows (`core.rate_limit.TokenBucket`: `rate_hz` per second,
bursts of two); otherwise it is held and published at the next timer tick, unless a newer
window replaces it. A window with NaN/Inf, a malformed layout or the wrong shape, or one the
model answers with a non-finite number, changes nothing but the counters and a throttled
warning: the last valid command stands. The timer is the watchdog of the loop: once the newest
valid window is older than `stale_periods` periods it publishes a zero Twist, so neither a
flood nor a stream of garbage can drive the robot faster, or stop it sooner, than the watchdog
would. Inference latency (p50/p99) is logged and published on `diagnostics` every
`report_period` seconds.

A policy that never answers is loud: once windows have kept arriving for `MUTE_PERIODS` control
periods and every one was rejected, the node logs an ERROR naming the mismatch and the fix, and
its `diagnostics` status turns ERROR until a window is answered again.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from std_msgs.msg import Float32MultiArray, String

from dodge_lstm.core.detection_rows import ROW_INPUTS
from dodge_lstm.core.features import WindowSpec
from dodge_lstm.core.rate_limit import TokenBucket
from dodge_lstm.resources import missing_model_hint, models_dir, resolve_model
from dodge_lstm.ros.messages import command_msg, command_type, msg_to_window, spec_to_msg
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, destroyed_if_refused, live_parameters
from dodge_lstm.ros.qos import CMD_QOS, POLICY_WINDOW_QOS, SPEC_QOS
from dodge_lstm.runtime.tflite_policy import InvalidWindowError, ModelError, TFLitePolicy

WARN_EVERY_NS = 5_000_000_000
"""Wall time (steady clock, whatever the node's clock) between two log lines of one kind: a
kind of rejected window, the latency report, the mute error."""

MUTE_PERIODS = 5
"""Control periods of windows that were all rejected before the policy reports itself as not
answering (ERROR log and diagnostics): more than the watchdog's stale limit, so one bad window
or a short burst of junk never trips it."""


class DodgePolicy(LifecycleNode):
    """TFLite LSTM policy with a real lifecycle."""

    @destroyed_if_refused
    def __init__(self, **kwargs) -> None:
        super().__init__("dodge_policy", **kwargs)
        next_configure = " (takes effect at the next configure)"
        declare(self, "model", "", "Path of a .tflite model; empty: "
                "lstm_t<timesteps>_u<units>.tflite from models_dir if either is set, else "
                "models_dir/default.tflite (default_sensing.tflite with input detections)"
                + next_configure, read_only=False)
        declare(self, "input", "balls", "Where the feature node's rows come from: balls "
                "(ground truth) or detections (a detector and a tracker); picks the default "
                "model" + next_configure, read_only=False)
        declare(self, "models_dir", str(models_dir()), "Folder of the shipped models"
                + next_configure, read_only=False)
        declare(self, "timesteps", 0, "Window length: picks the grid model with units (the "
                "other defaults to 5 or 15), and is checked against an explicit model; 0: unset"
                + next_configure, read_only=False)
        declare(self, "units", 0, "LSTM units: picks the grid model with timesteps; 0: unset"
                + next_configure, read_only=False)
        declare(self, "rate_hz", 10.0, "Control rate of the watchdog timer [Hz]",
                why="read-only: the control rate the model was trained at")
        declare(self, "stale_periods", 2.0, "A window older than this many periods is stale",
                read_only=False)
        declare(self, "report_period", 5.0, "Seconds between latency reports",
                read_only=False)
        self.stamped = declare(self, "stamped", False, "Publish cmd_vel as "
                               "geometry_msgs/TwistStamped (nav2's default) instead of Twist")
        live_parameters(self, ("timesteps", "units", "stale_periods", "report_period", "input"),
                        self.check_live, self.apply_live)
        self.model: TFLitePolicy | None = None
        self.model_path: Path | None = None
        self.cmd_pub = None
        self.diag_pub = None
        self.spec_pub = None
        self.spec: WindowSpec | None = None
        self.window_sub = None
        self.timer = None
        self.report_timer = None
        self.active = False
        self.reset_stats()

    @staticmethod
    def check_live(changes: dict[str, Any]) -> None:
        """Refuse values no model or watchdog can run with."""
        for name in ("timesteps", "units"):
            if name in changes and changes[name] < 0:
                raise ValueError(f"{name} must be >= 1 (or 0: unset), got {changes[name]}")
        for name in ("stale_periods", "report_period"):
            if name in changes and not changes[name] > 0:
                raise ValueError(f"{name} must be > 0, got {changes[name]}")
        if changes.get("input", "balls") not in ROW_INPUTS:
            raise ValueError(f"input must be balls or detections, got {changes['input']!r}")

    def apply_live(self, changes: dict[str, Any]) -> None:
        """A new stale limit applies at once, a new report period to the running report timer."""
        if "stale_periods" in changes and hasattr(self, "period_ns"):
            self.stale_ns = int(changes["stale_periods"] * self.period_ns)
        if "report_period" in changes and self.report_timer is not None:
            self.report_timer.timer_period_ns = round(changes["report_period"] * 1e9)

    # -- statistics ----------------------------------------------------------------------------
    def reset_stats(self) -> None:
        """Counters since configure."""
        self.inference_ns: deque[int] = deque(maxlen=2000)
        self.windows = self.twists = self.rejected_nan = self.rejected_malformed = 0
        self.stale_zeros = self.model_errors = self.superseded = 0
        self.last_window_ns: int | None = None
        self.rejected_since_ns: int | None = None
        """When the current run of rejected windows began (None: the last window was answered)."""
        self.last_rejection = ""
        self.warn_after_ns: dict[str, int] = {}
        """When each kind of rejection may be logged again (steady clock, ns)."""
        self.muted_reported = False
        self.pending: float | None = None
        """The newest command the rate limit held back (None: nothing waiting)."""

    def stats(self) -> dict[str, float]:
        """Counters and inference latency percentiles (µs) over the last 2000 calls."""
        lat = np.fromiter(self.inference_ns, dtype=np.float64, count=len(self.inference_ns)) / 1e3
        p50, p99 = np.percentile(lat, (50, 99)) if lat.size else (float("nan"),) * 2
        return {
            "windows": self.windows, "twists": self.twists, "rejected_nan": self.rejected_nan,
            "rejected_malformed": self.rejected_malformed, "stale_zeros": self.stale_zeros,
            "model_errors": self.model_errors, "superseded": self.superseded,
            "answering": float(not self.muted()),
            "inference_p50_us": float(p50), "inference_p99_us": float(p99),
        }

    # -- lifecycle -----------------------------------------------------------------------------
    def resolve_model_path(self) -> Path:
        """The `model` parameter, or the shipped model `timesteps`/`units` name, or the default
        model (the same choice `dodge-lstm sim` and the launch files make)."""
        explicit = self.get_parameter("model").value
        return resolve_model(str(Path(explicit).expanduser()) if explicit else "",
                             self.get_parameter("timesteps").value or None,
                             self.get_parameter("units").value or None,
                             Path(self.get_parameter("models_dir").value),
                             detections=self.get_parameter("input").value == "detections")

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load and check the model, tell the feature node its window; FAILURE with an
        actionable message on any problem."""
        try:
            self.check_live({"input": self.get_parameter("input").value})  # a file's value
            path = self.resolve_model_path()
            if not path.is_file():
                raise ModelError(missing_model_hint(path))
            self.model = TFLitePolicy(path, timesteps=self.get_parameter("timesteps").value
                                      or None)
            self.spec = WindowSpec.from_metadata(self.model.metadata, path.name)
            self.model_path = path
        except (ModelError, ValueError) as exc:
            self.model = None
            self.get_logger().error(f"configure failed: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.period_ns = int(1e9 / self.get_parameter("rate_hz").value)
        self.stale_ns = int(self.get_parameter("stale_periods").value * self.period_ns)
        self.reset_stats()
        self.bucket = TokenBucket(self.get_parameter("rate_hz").value)
        self.stats()  # pay numpy's first-call costs here, not in the 10 Hz loop
        self.cmd_pub = self.create_lifecycle_publisher(command_type(self.stamped), "cmd_vel",
                                                       CMD_QOS)
        self.diag_pub = self.create_lifecycle_publisher(DiagnosticArray, "diagnostics", 10)
        # A plain publisher: the feature node must fill its buffer before activation.
        self.spec_pub = self.create_publisher(String, "dodge/window_spec", SPEC_QOS)
        self.spec_pub.publish(spec_to_msg(self.spec))
        self.window_sub = self.create_subscription(
            Float32MultiArray, "dodge/window", self.on_window, POLICY_WINDOW_QOS)
        self.get_logger().info(f"configured with {self.model}; windows "
                               f"{self.spec.shape} announced on dodge/window_spec")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start the control timer; publishers go live in super().on_activate()."""
        self.timer = self.create_timer(1.0 / self.get_parameter("rate_hz").value, self.on_timer)
        self.report_timer = self.create_timer(self.get_parameter("report_period").value,
                                              self.report)
        self.active = True
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop the timers and leave the robot with a zero command."""
        self._stop_control()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Release everything configure made."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Zero command if we were driving, then release."""
        self._stop_control()
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _stop_control(self) -> None:
        if self.active:
            self.active = False
            self.publish_command(0.0)
        for timer in (self.timer, self.report_timer):
            if timer is not None:
                self.destroy_timer(timer)
        self.timer = self.report_timer = None
        self._forget_destroyed()

    def _release(self) -> None:
        if self.window_sub is not None:
            self.destroy_subscription(self.window_sub)
        if self.spec_pub is not None:
            self.destroy_publisher(self.spec_pub)
        self.spec_pub = None
        for pub in (self.cmd_pub, self.diag_pub):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.window_sub = self.cmd_pub = self.diag_pub = None
        self.model = None
        self._forget_destroyed()

    def destroy_node(self) -> None:
        """Also free the lifecycle state machine, which holds the rcl node: rclpy leaves it to
        the garbage collector, so `dodge_policy` would stay on the ROS graph after this call
        until a collection, and another bringup's graph guard would see a running graph."""
        super().destroy_node()
        self._state_machine.destroy_when_not_in_use()

    def _forget_destroyed(self) -> None:
        """rclpy's callback groups keep a weak reference per entity ever added (ros2/rclpy#1356):
        drop the dead ones, or every lifecycle cycle grows the node."""
        group = self.default_callback_group
        group.entities = {ref for ref in group.entities if ref() is not None}

    # -- control -------------------------------------------------------------------------------
    def publish_command(self, linear_x: float) -> None:
        """Publish a command with only linear.x set (the seed's 1-D action)."""
        if self.cmd_pub is None:
            return
        self.cmd_pub.publish(command_msg(linear_x, self.stamped,
                                         self.get_clock().now().to_msg()))
        self.twists += 1

    def stop_robot(self) -> None:
        """Last words on exit: a zero command, waited for until subscribers acknowledged it
        (bounded), so it is not lost with the process."""
        if self.cmd_pub is None or not self.active:
            return
        self.publish_command(0.0)
        self.cmd_pub.wait_for_all_acked(Duration(seconds=0.5))

    def on_window(self, msg: Float32MultiArray) -> None:
        """Answer a valid window at once (rate limit permitting); bad ones are only counted."""
        if not self.active or self.model is None:
            return
        self.windows += 1
        try:
            window = msg_to_window(msg)
        except ValueError as exc:
            self.rejected_malformed += 1
            self._rejected(f"malformed window: {exc}")
            if self._warn_due("malformed"):
                self.get_logger().warning(f"malformed window rejected ({self.rejected_malformed} "
                                          f"so far): {exc}")
            return
        start = time.perf_counter_ns()
        try:
            cmd = self.model(window)
        except InvalidWindowError as exc:
            if np.isfinite(window).all():
                self.rejected_malformed += 1
            else:
                self.rejected_nan += 1
            self._rejected(str(exc))
            if self._warn_due("invalid"):
                self.get_logger().warning(
                    f"window rejected ({self.rejected_nan} non-finite, {self.rejected_malformed} "
                    f"malformed so far): {exc}")
            return
        except ModelError as exc:  # a finite window gave a non-finite output
            self.model_errors += 1
            self._rejected(f"model output: {exc}")
            if self._warn_due("model"):
                self.get_logger().error(f"model output rejected ({self.model_errors} so far): "
                                        f"{exc}")
            return
        self.inference_ns.append(time.perf_counter_ns() - start)
        now = self.get_clock().now().nanoseconds
        self.last_window_ns = now
        if self.muted_reported:
            self.get_logger().info("answering windows again")
        self.rejected_since_ns = None
        self.muted_reported = False
        if self.pending is not None:
            self.superseded += 1  # a newer answer replaces one still waiting: never sent
        self.pending = cmd
        self._send_pending(now)

    def _warn_due(self, kind: str) -> bool:
        """True at most once per `WARN_EVERY_NS` of wall time per kind of log line. Decided
        here, before the logger is called: rclpy's `throttle_duration_sec` looks up the caller
        first (frame inspection, path resolution: ~0.3 ms), which made every rejected window
        cost 20 times an answered one, even when nothing was printed."""
        now = time.monotonic_ns()
        if now < self.warn_after_ns.get(kind, 0):
            return False
        self.warn_after_ns[kind] = now + WARN_EVERY_NS
        return True

    def _rejected(self, reason: str) -> None:
        """Note a rejected window: the start of a run of them, and why the last one failed."""
        if self.rejected_since_ns is None:
            self.rejected_since_ns = self.get_clock().now().nanoseconds
        self.last_rejection = reason

    def muted(self) -> bool:
        """True once every window for `MUTE_PERIODS` periods has been rejected."""
        return (self.rejected_since_ns is not None and hasattr(self, "period_ns")
                and self.get_clock().now().nanoseconds - self.rejected_since_ns
                >= MUTE_PERIODS * self.period_ns)

    def mute_message(self) -> str:
        """What is wrong and what to do, for the log and diagnostics."""
        expected = self.spec.shape if self.spec is not None else "?"
        return (f"not answering: every window for {MUTE_PERIODS} periods was rejected; last: "
                f"{self.last_rejection}. Model {self.model_path} takes windows {expected}, "
                f"announced on dodge/window_spec; the package's ball_features follows it, so "
                f"check that whatever publishes dodge/window (an older feature node, a replayed "
                f"bag, your own node) sends {expected} windows of finite values")

    def _send_pending(self, now_ns: int) -> None:
        if self.pending is not None and self.bucket.allow(now_ns):
            self.publish_command(self.pending)
            self.pending = None

    def on_timer(self) -> None:
        """Send a held command; or, once the newest valid window is stale, a zero command."""
        now = self.get_clock().now().nanoseconds
        if not self.muted_reported and self.muted():
            self.muted_reported = True
            self.report()  # the ERROR log and diagnostics now, not at the next report
        if self.last_window_ns is None or now - self.last_window_ns > self.stale_ns:
            self.pending = None
            if self.bucket.allow(now):
                self.stale_zeros += 1
                self.publish_command(0.0)
        else:
            self._send_pending(now)

    def report(self) -> None:
        """Publish latency percentiles and counters; log them (at most every 5 s of wall time,
        so a graph running 50x faster than real time does not flood the console)."""
        s = self.stats()
        if self._warn_due("report"):  # not rclpy's throttle: see _warn_due
            self.get_logger().info(
                f"inference p50 {s['inference_p50_us']:.1f} us, p99 "
                f"{s['inference_p99_us']:.1f} us; windows {s['windows']}, twists {s['twists']}, "
                f"rejected nan {s['rejected_nan']} / malformed {s['rejected_malformed']}, stale "
                f"{s['stale_zeros']}")
        mute = self.mute_message() if not s["answering"] else None
        if mute is not None and self._warn_due("mute"):
            self.get_logger().error(mute)
        if self.diag_pub is not None:
            status = DiagnosticStatus(level=DiagnosticStatus.OK if mute is None
                                      else DiagnosticStatus.ERROR, name=self.get_name(),
                                      message=mute or "inference latency",
                                      values=[KeyValue(key=k, value=f"{v:.3f}")
                                              for k, v in s.items()])
            arr = DiagnosticArray(status=[status])
            arr.header.stamp = self.get_clock().now().to_msg()
            self.diag_pub.publish(arr)


def main(args: list[str] | None = None) -> None:
    """Run the policy node; drive it with lifecycle services (or the launch file)."""
    # Leave the robot stopped, whatever state the node was in.
    run_node(DodgePolicy, SingleThreadedExecutor, args, on_exit=DodgePolicy.stop_robot)


if __name__ == "__main__":
    main()
