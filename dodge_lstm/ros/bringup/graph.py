"""Launch-free bringup: the `sim.launch.py` graph for machines without `launch`.

`dodge-lstm sim` starts the same nodes with the same parameters as `sim.launch.py` (both take
them from `graph_nodes`), in this process or one process per node (as `ros2 launch` does),
drives the policy node through
`configure` and `activate` over its real lifecycle services (as the launch file's event handlers
do), runs for `--duration` simulated seconds, deactivates it, and returns a summary measured by
a `GraphObserver` through topics only. One executor spins everything here (`graph_executor`):
rclpy's EventsExecutor unless `--executor single`.
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import rclpy
from lifecycle_msgs.msg import Transition
from rclpy.context import Context
from rclpy.exceptions import ParameterException
from rclpy.executors import Executor
from rclpy.node import Node
from std_srvs.srv import Trigger

from dodge_lstm.core.ball_records import BallLog
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.ros.bringup.graph_executor import GraphExecutor, spin_until
from dodge_lstm.ros.bringup.graph_guard import check_no_other_graph
from dodge_lstm.ros.bringup.graph_nodes import graph_nodes
from dodge_lstm.ros.bringup.lifecycle_client import LifecycleClient, call_service
from dodge_lstm.ros.bringup.observer import GraphObserver
from dodge_lstm.ros.bringup.options import (
    LABEL_TOPIC,
    SHADOW_NODE,
    SimOptions,
    check_options,
    checked_params_path,
    recorder_topics,
)
from dodge_lstm.ros.bringup.processes import NodeProcesses, node_commands, rss_mb
from dodge_lstm.ros.params_file import check_sections, node_parameters

CHECK_PERIOD_S = 0.05
"""How often (wall time) the run loop looks at its limits and redraws progress."""
RECORDER_WAIT_S = 5.0
"""Longest wait for the recorder to subscribe before the policy is activated."""


def control_period(params_path: Path) -> float:
    """The simulator's control period [s] as the parameters file sets `dodge_sim`'s
    `control_rate_hz` (the core default when the file leaves it out)."""
    rate = node_parameters(params_path, "dodge_sim").get(
        "control_rate_hz", ArenaConfig().control_rate_hz)
    return 1.0 / float(rate)


def in_process_nodes(opts: SimOptions, context: Context, params_dir: Path) -> list[Node]:
    """The graph's nodes (`graph_nodes`) as objects in this process (one executor, one GIL),
    each given the `--ros-args` it would get from a launch file; overrides files go to
    `params_dir`.

    If a constructor refuses its parameters half-way, the nodes made so far are destroyed
    before the error goes on: they must not stay on the domain, where a later run's graph guard
    would take them for a second graph.
    """
    import importlib

    params = checked_params_path(opts)
    nodes: list[Node] = []
    try:
        for spec in graph_nodes(opts):
            cls = getattr(importlib.import_module(spec.module), spec.class_name)
            nodes.append(cls(context=context, cli_args=spec.ros_args(params, params_dir)))
    except BaseException:
        destroy_nodes(nodes)
        raise
    return nodes


def destroy_nodes(nodes: list[Node]) -> None:
    """Destroy `nodes`, which takes each off the ROS graph at once, then collect them.

    rclpy nodes sit in reference cycles (callbacks are their bound methods): the collection
    frees the graph's memory (models, ring buffers, bag writers) now rather than at some later
    full collection.
    """
    while nodes:
        nodes.pop().destroy_node()
    gc.collect()


def _graph_cpu_s(procs: NodeProcesses | None) -> float:
    """CPU seconds the graph has used: its node processes, or this whole process in-process."""
    return procs.cpu_seconds() if procs is not None else time.process_time()


def _graph_rss_mb(procs: NodeProcesses | None) -> float:
    """Resident memory of the graph [MiB], counted like `_graph_cpu_s`."""
    return procs.rss_mb() if procs is not None else rss_mb()


def _transition(policy: LifecycleClient, transition: int, procs: NodeProcesses | None) -> None:
    """One lifecycle transition, as the launch file's event handlers send it; a refusal is an
    error."""
    if not policy.change_state(transition):
        hint = procs.log_tail(policy.target) if procs else "see its log above"
        raise RuntimeError(f"{policy.target} failed transition {transition}:\n{hint}")


def _await_recorder(bringup: Node, executor: Executor, opts: SimOptions) -> None:
    """With `--record`, spin until the recorder subscribes to every topic it records that has a
    publisher, at most `RECORDER_WAIT_S`: it looks for topics every 0.5 s of wall time, and a
    lockstep graph runs tens of simulated seconds in that time, all of it missing from the bag
    otherwise."""
    if opts.record is None:
        return
    from dodge_lstm.ros.nodes.recorder_node import DEFAULT_TOPICS

    topics = recorder_topics(opts) or node_parameters(opts.params_path, "dodge_recorder").get(
        "topics", DEFAULT_TOPICS)
    names = [bringup.resolve_topic_name(t) for t in topics]

    def subscribed() -> bool:
        return all(not bringup.count_publishers(n) or any(
            s.node_name == "dodge_recorder" for s in bringup.get_subscriptions_info_by_topic(n))
            for n in names)

    spin_until(executor, subscribed, RECORDER_WAIT_S)


def _run_for(graph: GraphExecutor, observer: GraphObserver, opts: SimOptions,
             period: float, rtf: float, procs: NodeProcesses | None,
             rss: list[tuple[int, float]]) -> bool:
    """Spin until the observer has seen `opts.duration` simulated seconds of ticks (or
    `opts.balls` resolved balls); True if Ctrl-C cut it short. Raises RuntimeError if the
    wall-clock limit passes or a node dies. Appends (simulated second, resident MiB of the
    graph) to `rss` once per simulated minute, for soak runs.

    Each spin runs one callback; everything else here (limits, memory, the progress bar) runs
    at most every `CHECK_PERIOD_S` of wall time, so a lockstep run does not pay for it per
    message."""
    from tqdm import tqdm

    if opts.balls is not None:  # ~1 ball per simulated second; real time is the slowest case
        wall_limit = 4.0 * opts.balls / rtf + 60.0
        total, unit = opts.balls, "ball"
    else:
        wall_limit = 3.0 * opts.duration / rtf + 30.0
        total, unit = round(opts.duration / period), "tick"

    def progress() -> int:
        return observer.tally.balls if opts.balls is not None else observer.ticks

    executor = graph.executor
    wall_start = time.perf_counter()
    next_check = wall_start
    next_sample = 0
    bar = tqdm(total=total, unit=unit, desc="sim", disable=not opts.progress, leave=False)
    try:
        while progress() < total and not graph.interrupted:
            executor.spin_once(timeout_sec=CHECK_PERIOD_S)
            if (now := time.perf_counter()) < next_check:
                continue
            next_check = now + CHECK_PERIOD_S
            if observer.ticks >= next_sample:  # memory every simulated minute, for soak runs
                rss.append((round(observer.ticks * period), _graph_rss_mb(procs)))
                next_sample += round(60.0 / period)
            if now - wall_start > wall_limit:
                raise RuntimeError(f"simulation did not reach {opts.balls or opts.duration} "
                                   f"{unit}s in {wall_limit:.0f} s of wall time")
            if procs is not None and (dead := procs.first_exited()) is not None:
                raise RuntimeError(f"{dead} exited early:\n" + procs.log_tail(dead))
            if opts.progress:
                rate = observer.tally.threat_dodge_rate
                bar.set_postfix_str(f"t={observer.ticks * period:.0f}s balls "
                                    f"{observer.tally.balls} threat dodge "
                                    + ("-" if math.isnan(rate) else f"{rate:.1%}"),
                                    refresh=False)
                bar.update(progress() - bar.n)
    except KeyboardInterrupt:  # a second Ctrl-C, inside a callback
        return True
    finally:
        bar.close()
    return graph.interrupted


def _await_report(executor: Executor, observer: GraphObserver,
                  real_time_factor: float) -> None:
    """One more policy report (sent every simulated second) so its counters cover the whole
    run; bounded, a missing report only leaves them a second short."""
    seen = observer.diagnostics_count
    spin_until(executor, lambda: observer.diagnostics_count != seen,
               1.5 / real_time_factor + 0.5)


def run_sim(opts: SimOptions, ball_log: BallLog | None = None) -> dict[str, Any]:
    """Bring the graph up, run it, tear it down; returns the summary dictionary. `ball_log`
    gets every ball counted, read from the topics (`dodge-lstm sim --outcomes`).

    In-process (default) every node lives in this process; with `opts.processes` each node is
    its own process, as `ros2 launch` starts them. Either way the run is driven and measured
    only through ROS interfaces: lifecycle services, topics, the recorder's `~/stop`.
    """
    check_options(opts)
    check_sections(checked_params_path(opts))
    period = control_period(opts.params_path)  # read once, before anything starts
    rtf = opts.rtf()
    context = Context()
    rclpy.init(args=[], context=context)
    nodes: list[Node] = []
    procs: NodeProcesses | None = None
    policy: LifecycleClient | None = None
    graph = GraphExecutor(context, opts.executor)
    executor = graph.executor
    logs: Path | None = None
    try:
        check_no_other_graph(context)  # before any graph node: refuse a second graph
        logs = Path(tempfile.mkdtemp(prefix="dodge_sim_logs_"))  # and overrides files
        if opts.processes:
            procs = NodeProcesses(node_commands(opts, logs), logs)
            procs.start()
        else:
            try:
                nodes = in_process_nodes(opts, context, logs)
            except ParameterException as exc:  # e.g. a string where an integer belongs
                raise ValueError(f"parameters file {opts.params_path}: {exc}") from None
        observer = GraphObserver(stamped=opts.stamped, context=context,
                                 label_topic=LABEL_TOPIC if opts.label else None,
                                 ball_log=ball_log, watch_balls=opts.spawner_mode == "sim",
                                 period_s=period)
        nodes.append(observer)
        observer.max_balls = opts.balls
        bringup = Node("dodge_bringup", context=context)
        nodes.append(bringup)
        for node in nodes:
            executor.add_node(node)

        policy = LifecycleClient(bringup, executor, "dodge_policy") \
            if opts.policy == "lstm" else None
        if policy is not None:
            policy.get_state()  # answered both ways before transitions are sent
            _transition(policy, Transition.TRANSITION_CONFIGURE, procs)
            # Its publishers exist now and it sends nothing yet: the bag starts with the run.
            _await_recorder(bringup, executor, opts)
            _transition(policy, Transition.TRANSITION_ACTIVATE, procs)
        else:  # best effort: an expert or a person drives from the start
            _await_recorder(bringup, executor, opts)
        observer.start_counting()
        wall_start = time.perf_counter()
        cpu_start = _graph_cpu_s(procs)
        rss: list[tuple[int, float]] = []
        interrupted = _run_for(graph, observer, opts, period, rtf, procs, rss)
        cpu = _graph_cpu_s(procs) - cpu_start
        rss.append((round(observer.ticks * period), _graph_rss_mb(procs)))
        observer.stop_counting()
        wall = time.perf_counter() - wall_start
        state = "unmanaged"
        if policy is not None:
            _await_report(executor, observer, rtf)
            state = policy.get_state()
            policy.change_state(Transition.TRANSITION_DEACTIVATE)
        bag = None
        if opts.record is not None:
            stop = bringup.create_client(Trigger, "dodge_recorder/stop")
            bag = json.loads(call_service(executor, stop, Trigger.Request()).message)

        summary = observer.summary(period, rtf, wall, interrupted)
        summary["policy"] = opts.policy_label
        summary["labels"] = (f"{opts.label} ({SHADOW_NODE} on {LABEL_TOPIC})" if opts.label
                             else "none")
        summary["policy_state"] = state
        summary["mode"] = "processes" if opts.processes else "in-process"
        summary["sim"] = opts.sim
        summary["lockstep"] = opts.lockstep
        summary["spawner"] = opts.spawner_mode
        summary["executor"] = opts.executor
        summary["speedup"] = summary["sim_seconds"] / wall if wall > 0 else math.nan
        # The graph's CPU in % of one core: the node processes, or this whole process (nodes,
        # observer and all) when the graph runs in-process.
        summary["graph_cpu_percent"] = 100.0 * cpu / wall if wall > 0 else math.nan
        summary["graph_rss_mb"] = rss  # [simulated second, resident MiB], once a minute
        if bag is not None:
            summary["bag"] = bag
        if procs is not None:
            summary["exit_codes"] = procs.stop()
            summary["logs"] = str(procs.log_dir)
        return summary
    finally:
        if procs is not None:
            procs.stop()
        elif logs is not None:  # in-process: only the overrides files, read at construction
            shutil.rmtree(logs, ignore_errors=True)
        executor.shutdown()
        # shutdown() keeps the callbacks the executor had queued, each with its node: drop the
        # executor, and the client that holds it, so the collection below frees every node.
        del executor, policy
        graph.release()
        destroy_nodes(nodes)
        rclpy.try_shutdown(context=context)
        graph.restore_signals()  # after the executor is gone: asio resets them when it goes
