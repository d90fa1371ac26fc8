"""Benchmark the real-time node graph, idle and under a fixed background load, with and without
junk windows beside the real stream.

Runs `dodge-lstm sim` (simulator, spawner, feature node, lifecycle TFLite policy, observer) at
real time and reads the observer's numbers, taken from DDS source timestamps (publication
times): latency from a window to the Twist that answers it, the Twist stream's deviation from
the 100 ms period after a 2 s warm-up (in steady state every Twist answers a window: the
watchdog only speaks when windows stop), the simulator tick jitter, inference inside the graph,
the graph's CPU (% of one core, from /proc) and the closed-loop threat dodge rate.

Each scenario runs in the same invocation, one after the other: idle, then with `--load` busy
processes (default: one per core) that the bench starts and stops itself. With `--junk` each of
them runs twice, without and then with a junk publisher: its own rclpy node in a process of its
own, on the same domain, sending `--junk` malformed `dodge/window` messages per second (NaN,
Inf, 1e30, too few rows, too many rows, no layout, wrong number of dims, empty, random layout;
the window QoS of the real stream). A probe node in that process (run in every scenario, so
each has the same participants) counts the real windows the feature node published against
the ones the policy answered, from the policy's `diagnostics`: real windows the policy never
saw were displaced by junk in its window queue. `junk cost`: ticks without a model command
beyond those of the same load without junk. In the junk columns the observer's window stamps
include junk (its own one-deep queue drops some of either), so window -> Twist there is only
indicative; the counts are exact. Every scenario runs with the same spawner seed. Prints a
table and writes JSON.

    .venv/bin/python bench/bench_graph.py [--duration 60] [--processes] [--load 2] [--junk [36]]
        [--executor events|single]
"""

from __future__ import annotations

import argparse
import array
import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np

TARGETS = {"window_to_twist_p99_ms": 3.0, "twist_period_jitter_p99_ms": 2.0,
           "inference_p99_us": 500.0, "graph_cpu_percent": 20.0}
ROWS = [
    ("window -> Twist p50 [ms]", "window_to_twist_p50_ms"),
    ("window -> Twist p99 [ms]", "window_to_twist_p99_ms"),
    ("period jitter p50 [ms]", "twist_period_jitter_p50_ms"),
    ("period jitter p99 [ms]", "twist_period_jitter_p99_ms"),
    ("simulator tick jitter p99 [ms]", "odom_period_jitter_p99_ms"),
    ("inference p50 [us]", "inference_p50_us"),
    ("inference p99 [us]", "inference_p99_us"),
    ("graph CPU [% of a core]", "graph_cpu_percent"),
    ("Twist rate [Hz]", "twist_rate_hz"),
    ("threat dodge rate", "threat_dodge_rate"),
]
COUNT_ROWS = [
    ("ticks", "ticks"),
    ("twist_msgs", "twist_msgs"),
    ("stale zeros", "stale_zeros"),
    ("ticks without a model command", "unanswered_ticks"),
    ("threats", "threat_balls"),
    ("threat hits", "threat_hits"),
    ("rejected_windows", "rejected_windows"),
    ("junk sent, between reports", "junk_sent_between_reports"),
    ("junk rejected, between reports", "junk_rejected_between_reports"),
    ("real windows published", "real_windows"),
    ("real windows lost", "real_windows_lost"),
]
"""Counts. `ticks without a model command`: ticks minus the model's commands (twist_msgs minus
stale zeros, the start-up zero included); `... between reports` and `real windows ...` from the
probe, between the policy's first and last report (the policy counts only while active; +-1
where a window crosses a report)."""

JUNK_KINDS = ("nan", "inf", "huge", "short", "long", "no_layout", "dims", "empty", "garbage")
"""What the junk publisher cycles through, one kind per message."""
LONG_ROWS_FACTOR = 20
"""A `long` junk window has this many times the model's rows (a 100-row window for t5)."""


def _burn(stop: multiprocessing.synchronize.Event) -> None:
    """A busy loop: the background load (one of these per core), at normal priority even when
    the bench itself runs under `chrt` (children inherit the scheduling policy)."""
    _normal_priority()
    x = 0
    while not stop.is_set():
        for _ in range(10_000):
            x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def _normal_priority() -> None:
    if hasattr(os, "sched_setscheduler"):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


def _floats(values: np.ndarray) -> array.array:
    """`Float32MultiArray.data` without the setter's per-value checks."""
    return array.array("f", np.asarray(values, dtype=np.float32).tobytes())


def junk_msg(kind: str, shape: tuple[int, int], rng: np.random.Generator):
    """One malformed `dodge/window` message of `kind` (`JUNK_KINDS`) for a model taking
    `shape` windows; every one of them must be rejected by the policy."""
    from std_msgs.msg import Float32MultiArray, MultiArrayDimension

    def msg(rows: np.ndarray, dims: list[tuple[str, int, int]] | None = None):
        m = Float32MultiArray()
        n, f = rows.shape
        dims = dims if dims is not None else [("timesteps", n, n * f), ("features", f, f)]
        m.layout.dim = [MultiArrayDimension(label=lb, size=s, stride=st) for lb, s, st in dims]
        m.data = _floats(rows.ravel())
        return m

    n, f = shape
    window = rng.normal(0.0, 1.0, size=shape).astype(np.float32)
    cell = (int(rng.integers(n)), int(rng.integers(f)))
    if kind == "nan":
        window[cell] = np.nan
        return msg(window)
    if kind == "inf":
        window[cell] = np.inf if rng.random() < 0.5 else -np.inf
        return msg(window)
    if kind == "huge":
        window[:] = 1e30
        return msg(window)
    if kind == "short":
        return msg(window[:n - 1] if n > 1 else window[:, :0])
    if kind == "long":
        return msg(rng.normal(0.0, 1.0, size=(n * LONG_ROWS_FACTOR, f)).astype(np.float32))
    if kind == "no_layout":
        return msg(window, dims=[])
    if kind == "dims":  # one dim, or three
        flat = [("values", n * f, n * f)]
        three = [("timesteps", n, n * f), ("features", f, f), ("extra", 1, 1)]
        return msg(window, dims=flat if rng.random() < 0.5 else three)
    if kind == "empty":
        return Float32MultiArray()
    if kind == "garbage":  # random dims and data; a nonzero data_offset keeps it invalid
        dims = [(str(rng.integers(1 << 30)), int(rng.integers(0, 1000)),
                 int(rng.integers(0, 1 << 20))) for _ in range(int(rng.integers(1, 5)))]
        data = rng.uniform(-1e3, 1e3, size=int(rng.integers(0, 256))).astype(np.float32)
        m = msg(np.zeros((1, 1), np.float32), dims=dims)
        m.data = _floats(data)
        m.layout.data_offset = int(rng.integers(1, 1 << 16))
        return m
    raise ValueError(f"unknown junk kind {kind!r}")


def _is_real(msg, shape: tuple[int, int]) -> bool:
    """A window the policy would answer: the model's shape, finite, in a sane range."""
    dims = msg.layout.dim
    if len(dims) != 2 or (dims[0].size, dims[1].size) != shape or msg.layout.data_offset:
        return False
    data = np.asarray(msg.data, dtype=np.float32)
    return bool(data.size == shape[0] * shape[1] and np.isfinite(data).all()
                and np.abs(data).max(initial=0.0) < 1e6)


def _junk(stop, ready, results, rate_hz: float, shape: tuple[int, int], seed: int) -> None:
    """The junk publisher and probe: its own process and rclpy node (`dodge_junk`) on the
    bench's domain. Publishes `rate_hz` junk windows per second (none at 0); counts the real
    windows it sees and snapshots the policy's counters at each of its reports; puts its
    counts on `results` when `stop` is set."""
    _normal_priority()
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Float32MultiArray

    from dodge_lstm.ros.qos import WINDOW_QOS

    context = Context()
    rclpy.init(args=[], context=context)
    node = rclpy.create_node("dodge_junk", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    rng = np.random.default_rng(seed)
    counts = {"junk_sent": 0, "real_seen": 0, "junk_seen": 0}
    sent_by_kind = dict.fromkeys(JUNK_KINDS, 0)
    reports: list[dict[str, float]] = []
    pub = node.create_publisher(Float32MultiArray, "dodge/window", WINDOW_QOS)

    def on_window(msg: Float32MultiArray) -> None:
        counts["real_seen" if _is_real(msg, shape) else "junk_seen"] += 1

    def on_diag(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name == "dodge_policy":
                snap = {kv.key: float(kv.value) for kv in status.values}
                reports.append(snap | {"real_seen": counts["real_seen"],
                                       "junk_sent": counts["junk_sent"], "t": time.monotonic()})

    def publish() -> None:
        kind = JUNK_KINDS[counts["junk_sent"] % len(JUNK_KINDS)]
        pub.publish(junk_msg(kind, shape, rng))
        counts["junk_sent"] += 1
        sent_by_kind[kind] += 1

    # Deep enough that the probe sees every real window however late it is scheduled.
    node.create_subscription(Float32MultiArray, "dodge/window", on_window,
                             QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE))
    node.create_subscription(DiagnosticArray, "diagnostics", on_diag, 50)
    if rate_hz > 0:
        node.create_timer(1.0 / rate_hz, publish)
    ready.set()
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)
        results.put({"counts": counts, "sent_by_kind": sent_by_kind,
                     "reports": reports[:1] + reports[-1:]})
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def _delivery(junk: dict) -> dict[str, float]:
    """Real windows published vs. answered, junk sent vs. rejected, between the policy's first
    and last report (the policy counts only while active)."""
    reports = junk["reports"]
    if len(reports) < 2:
        return {}
    a, b = reports[0], reports[-1]

    def d(key: str) -> float:
        return b.get(key, 0.0) - a.get(key, 0.0)

    answered = d("windows") - d("rejected_nan") - d("rejected_malformed") - d("model_errors")
    return {"seconds": b["t"] - a["t"], "real_windows": int(d("real_seen")),
            "real_windows_answered": int(answered),
            "real_windows_lost": int(d("real_seen") - answered),
            "junk_sent_between_reports": int(d("junk_sent")),
            "junk_rejected_between_reports": int(d("rejected_nan") + d("rejected_malformed"))}


def _model_shape(opts) -> tuple[int, int]:
    from dodge_lstm.core.features import WindowSpec
    from dodge_lstm.runtime.model_metadata import metadata_path_for, read_metadata

    path = opts.model_path
    return WindowSpec.from_metadata(read_metadata(metadata_path_for(path),
                                                  model_path=path)).shape


def _run(duration: float, processes: bool, load: int, junk_hz: float, seed: int,
         probe: bool, executor: str = "events") -> dict:
    from dodge_lstm.ros.bringup.graph import control_period, run_sim
    from dodge_lstm.ros.bringup.options import SimOptions

    # The 2020 pick, t5/u15 (two slots), as the README's figures were measured with.
    opts = SimOptions(duration=duration, policy="lstm", processes=processes, timesteps=5,
                      units=15, seed=seed, executor=executor)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    burners = [ctx.Process(target=_burn, args=(stop,), daemon=True) for _ in range(load)]
    junk_stop, junk_ready, junk_results = ctx.Event(), ctx.Event(), ctx.Queue()
    junk = ctx.Process(target=_junk, args=(junk_stop, junk_ready, junk_results, junk_hz,
                                           _model_shape(opts), seed), daemon=True) \
        if probe else None
    loadavg = os.getloadavg()
    for p in burners:
        p.start()
    try:
        if junk is not None:
            junk.start()
            if not junk_ready.wait(30.0):
                raise RuntimeError("the junk publisher did not start")
        time.sleep(0.5 if load or junk is not None else 0.0)  # let the load settle
        summary = run_sim(opts)
        junk_out = None
        if junk is not None:
            junk_stop.set()
            junk_out = junk_results.get(timeout=30.0)
    finally:
        stop.set()
        junk_stop.set()
        for p in [*burners, *([junk] if junk is not None else [])]:
            p.join(timeout=10.0)
            if p.is_alive():
                p.kill()
                p.join()
    ticks = round(summary["sim_seconds"] / control_period(opts.params_path))
    summary |= {"loadavg_before": loadavg, "seed": seed, "load_processes": load,
                "ticks": ticks,
                "unanswered_ticks": ticks - (summary["twist_msgs"]
                                             - summary.get("stale_zeros", 0))}
    if junk_out is not None:
        summary |= {"junk_rate_hz": junk_hz, "junk_sent": junk_out["counts"]["junk_sent"],
                    "junk_sent_by_kind": junk_out["sent_by_kind"],
                    "long_rows_factor": LONG_ROWS_FACTOR} | _delivery(junk_out)
    return summary


def _cell(value) -> str:
    if value is None:
        return f"{'n/a':>12}"
    if isinstance(value, int):
        return f"{value:>12d}"
    return f"{value:>12.3f}"


def junk_costs(results: dict[str, dict]) -> None:
    """Add what junk costs to each `<load>+junk` scenario: its ticks without a model command
    beyond those of `<load>` (count and % of the ticks)."""
    for name, s in results.items():
        base = results.get(name.removesuffix("+junk"))
        if name.endswith("+junk") and base is not None:
            s["junk_cost_ticks"] = s["unanswered_ticks"] - base["unanswered_ticks"]
            s["junk_cost_percent"] = 100.0 * s["junk_cost_ticks"] / max(s["ticks"], 1)


def table(results: dict[str, dict]) -> str:
    """The printed table: one column per scenario."""
    names = list(results)
    rows = ROWS + COUNT_ROWS + [("junk cost [ticks]", "junk_cost_ticks"),
                                ("junk cost [% of ticks]", "junk_cost_percent")]
    lines = [f"{'metric':<31}" + "".join(f"{n:>12}" for n in names) + "  target (idle)"]
    for label, key in rows:
        cells = "".join(_cell(results[n].get(key)) for n in names)
        target = ""
        if key in TARGETS and "idle" in results:
            value = results["idle"].get(key)
            ok = value is not None and value <= TARGETS[key]
            target = f"  <= {TARGETS[key]:g}  {'meets' if ok else 'MISSES'}"
        lines.append(f"{label:<31}{cells}{target}")
    for n in names:
        s = results[n]
        lines.append(f"{n}: {s['mode']}, policy {s['policy_state']}, {s['twist_msgs']} Twists, "
                     f"{s['balls']} balls in {s['sim_seconds']:.0f} s, load average before "
                     f"{s['loadavg_before'][0]:.2f}")
    return "\n".join(lines)


def main() -> None:
    from dodge_lstm.core.evaluation import REPORTED_SEED

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0, help="simulated = wall seconds")
    parser.add_argument("--processes", action="store_true",
                        help="one process per node (as ros2 launch) instead of one process")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 2,
                        help="busy background processes for the loaded run (0: idle only)")
    parser.add_argument("--junk", type=float, nargs="?", const=36.0, default=0.0,
                        metavar="PER_S",
                        help="also run every scenario with this many malformed windows per "
                             "second beside the real stream (default 36)")
    parser.add_argument("--seed", type=int, default=REPORTED_SEED,
                        help=f"ball spawner seed of every scenario (default {REPORTED_SEED})")
    parser.add_argument("--executor", choices=("events", "single"), default="events",
                        help="what spins the bringup process (all nodes, in-process): as "
                             "`dodge-lstm sim --executor`")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON path (default bench/results/graph[_processes][_junk].json)")
    args = parser.parse_args()
    if args.out is None:
        suffix = ("_processes" if args.processes else "") + ("_junk" if args.junk else "")
        args.out = Path(f"bench/results/graph{suffix}.json")
    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")

    load_before = os.getloadavg()
    loads = {"idle": 0} | ({f"load {args.load}": args.load} if args.load else {})
    scenarios = {}
    for name, load in loads.items():  # with and without junk next to each other
        scenarios[name] = (load, 0.0)
        if args.junk:
            scenarios[f"{name}+junk"] = (load, args.junk)
    results = {}
    for name, (load, junk_hz) in scenarios.items():
        print(f"{name}: load average before {os.getloadavg()[0]:.2f}", flush=True)
        results[name] = _run(args.duration, args.processes, load, junk_hz, args.seed,
                             probe=bool(args.junk))
    junk_costs(results)
    print(table(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"scenarios": results, "targets": TARGETS,
                                    "cpus": os.cpu_count(), "seed": args.seed,
                                    "junk_kinds": list(JUNK_KINDS) if args.junk else [],
                                    "loadavg_before": load_before}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
