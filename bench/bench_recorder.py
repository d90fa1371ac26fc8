"""Benchmark the recorder: serialized Odometry through DDS into a bag vs straight into rosbags.

Rows (one run, N messages each):

* ``rosbags direct``: ``bags.BagWriter.write`` in a loop, close included (the ceiling).
* ``recorder paced``: the recorder node as its own process (``python -m
  dodge_lstm.ros.nodes.recorder_node``), a reliable publisher here paced at ``--rate`` msgs/s.
* ``recorder burst``: the same publisher as fast as it can publish.

For the recorder rows, ``recorder msgs/s`` is the rate the recorder wrote at (first to last
write stamp in the bag), ``e2e msgs/s`` counts from the first publish to the last write, and
``drops`` = published - found in the bag (read back with the ``mcap`` package). Writes
``bench/results/recorder.json``. The machine may be shared; the load average is recorded.

    .venv/bin/python bench/bench_recorder.py [-n 20000] [--rate 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
TARGET_MSGS_PER_S = 10_000

# Isolate DDS before rclpy loads: a domain of our own (1..100, as in test/conftest.py),
# discovered on this host only.
os.environ["ROS_DOMAIN_ID"] = str(1 + os.getpid() % 100)
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_LOCALHOST_ONLY", None)

import rclpy  # noqa: E402
from mcap.reader import make_reader  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy  # noqa: E402
from rclpy.serialization import serialize_message  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from dodge_lstm.bags import rosbag_io as bags  # noqa: E402


def odometry_payloads(n: int) -> list[bytes]:
    """N distinct serialized Odometry messages (~700 B each, like the robot's)."""
    out = []
    for i in range(n):
        msg = Odometry()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(i * 10_000_000, 10**9)
        msg.header.frame_id, msg.child_frame_id = "odom", "base_link"
        msg.pose.pose.position.x = 0.001 * i
        msg.pose.pose.orientation.w = 1.0
        out.append(serialize_message(msg))
    return out


def bag_stats(path: Path) -> tuple[int, int, int]:
    """(messages, first log time, last log time) from the MCAP summary, not via rosbags."""
    (mcap_file,) = path.glob("*.mcap")
    with mcap_file.open("rb") as fh:
        stats = make_reader(fh).get_summary().statistics
    return stats.message_count, stats.message_start_time, stats.message_end_time


def direct(payloads: list[bytes], workdir: Path) -> dict[str, Any]:
    path = workdir / "direct"
    start = time.perf_counter()
    with bags.open_writer(path) as writer:
        writer.add_topic("/odom", "nav_msgs/msg/Odometry")
        t = time.time_ns()
        for i, data in enumerate(payloads):
            writer.write("/odom", data, t + i)
    elapsed = time.perf_counter() - start
    count, _, _ = bag_stats(path)
    rate = len(payloads) / elapsed
    return {
        "case": "rosbags direct",
        "published": len(payloads),
        "written": count,
        "drops": len(payloads) - count,
        "publish_msgs_per_s": None,
        "recorder_msgs_per_s": rate,
        "e2e_msgs_per_s": rate,
    }


class Bench:
    """The publishing side: one publisher and a client for the recorder's services."""

    def __init__(self, context: Context) -> None:
        self.node = rclpy.create_node("bench_publisher", context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        # Reliable keep-all: the publisher never overwrites an unacknowledged sample itself, so
        # every drop counted below happened at the recorder.
        qos = QoSProfile(
            history=HistoryPolicy.KEEP_ALL, depth=1, reliability=ReliabilityPolicy.RELIABLE
        )
        self.pub = self.node.create_publisher(Odometry, "odom", qos)
        self.start = self.node.create_client(Trigger, "dodge_recorder/start")
        self.stop = self.node.create_client(Trigger, "dodge_recorder/stop")

    def spin_until(self, predicate: Any, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                return False
            self.executor.spin_once(timeout_sec=0.05)
        return True

    def call(self, client: Any, timeout_s: float = 10.0) -> dict[str, Any]:
        if not self.spin_until(client.service_is_ready, timeout_s):
            raise RuntimeError(f"{client.srv_name} not available")
        future = client.call_async(Trigger.Request())
        if not self.spin_until(future.done, timeout_s):
            raise RuntimeError(f"{client.srv_name} did not answer")
        response = future.result()
        if not response.success:
            raise RuntimeError(f"{client.srv_name}: {response.message}")
        return json.loads(response.message)

    def written(self) -> int:
        counts = self.call(self.start)["topics"].get("/odom", {})
        return counts.get("written", 0) + counts.get("failed", 0)

    def publish(self, payloads: list[bytes], rate: float | None) -> tuple[int, float, int]:
        """Publish all payloads (paced at ``rate`` if given); return (t0 ns, seconds, retries)."""
        retries = 0
        t0_ns = time.time_ns()
        start = time.perf_counter()
        for i, data in enumerate(payloads):
            if rate is not None:
                ahead = start + i / rate - time.perf_counter()
                if ahead > 0.001:
                    time.sleep(ahead)
            while True:
                try:
                    self.pub.publish(data)
                    break
                except Exception:  # keep-all history full past max_blocking_time: retry
                    retries += 1
        return t0_ns, time.perf_counter() - start, retries

    def through_recorder(self, case: str, payloads: list[bytes], rate: float | None) -> dict:
        self.call(self.start)  # make sure a bag is open
        t0_ns, seconds, retries = self.publish(payloads, rate)
        # Wait until the recorder has caught up, or stopped making progress for 3 s.
        last, last_change = -1, time.monotonic()
        while True:
            done = self.written()
            if done >= len(payloads) or time.monotonic() - last_change > 3.0:
                break
            if done != last:
                last, last_change = done, time.monotonic()
            self.spin_until(lambda: False, 0.1)
        summary = self.call(self.stop)
        count, first_ns, last_ns = bag_stats(Path(summary["path"]))
        return {
            "case": case,
            "published": len(payloads),
            "written": count,
            "drops": len(payloads) - count,
            "publish_retries": retries,
            "publish_msgs_per_s": len(payloads) / seconds,
            "recorder_msgs_per_s": (count - 1) / max(1e-9, (last_ns - first_ns) / 1e9),
            "e2e_msgs_per_s": count / max(1e-9, (last_ns - t0_ns) / 1e9),
            "bag": summary["path"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="messages per row")
    parser.add_argument("--rate", type=float, default=TARGET_MSGS_PER_S, help="paced row msgs/s")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench/results/recorder.json")
    args = parser.parse_args()

    payloads = odometry_payloads(args.n)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_recorder_") as tmp:
        workdir = Path(tmp)
        rows.append(direct(payloads, workdir))

        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        recorder = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dodge_lstm.ros.nodes.recorder_node",
                "--ros-args",
                "--log-level",
                "warn",
                "-p",
                "topics:=[odom]",
                "-p",
                f"output_dir:={workdir / 'recorded'}",
            ],
            env=env,
        )
        context = Context()
        rclpy.init(context=context)
        try:
            bench = Bench(context)
            if not bench.spin_until(lambda: bench.pub.get_subscription_count() > 0, 30.0):
                raise RuntimeError("the recorder never subscribed to /odom")
            rows.append(
                bench.through_recorder(f"recorder paced {args.rate:.0f}/s", payloads, args.rate)
            )
            rows.append(bench.through_recorder("recorder burst", payloads, None))
        finally:
            recorder.send_signal(signal.SIGINT)
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
            rclpy.try_shutdown(context=context)

    print(
        f"{'case':<24}{'published':>10}{'written':>9}{'drops':>7}"
        f"{'publish/s':>11}{'recorder/s':>12}{'e2e/s':>9}"
    )
    for r in rows:
        pub = f"{r['publish_msgs_per_s']:.0f}" if r["publish_msgs_per_s"] else "-"
        print(
            f"{r['case']:<24}{r['published']:>10}{r['written']:>9}{r['drops']:>7}"
            f"{pub:>11}{r['recorder_msgs_per_s']:>12.0f}{r['e2e_msgs_per_s']:>9.0f}"
        )
    paced = rows[1]
    meets = paced["drops"] == 0 and paced["e2e_msgs_per_s"] >= 0.95 * TARGET_MSGS_PER_S
    print(
        f"target >= {TARGET_MSGS_PER_S} msgs/s with zero drops (paced row): "
        f"{'met' if meets else 'NOT met'}; load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores"
    )

    args.out.parent.mkdir(parents=True, exist_ok=True)
    for r in rows:
        r.pop("bag", None)
    args.out.write_text(
        json.dumps(
            {
                "benchmark": "recorder",
                "n": args.n,
                "paced_rate": args.rate,
                "target_msgs_per_s": TARGET_MSGS_PER_S,
                "target_met": meets,
                "rows": rows,
                "loadavg_1min": os.getloadavg()[0],
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "machine": platform.machine(),
                "rmw": rclpy.get_rmw_implementation_identifier(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
