"""One process per node, as `ros2 launch` runs the graph: each node's console-script module with
the parameters file and its overrides, output to a log file per node, stopped with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from dodge_lstm.ros.bringup.options import (
    SHADOW_NODE,
    SHADOW_REMAPS,
    SimOptions,
    model_shape,
    recorder_topics,
    ros_args,
)

RECORDER_NODE = "dodge_recorder"

STOP_TIMEOUT_S = 10.0
"""How long one node may take to exit after its Ctrl-C before it is killed [s]."""


def node_commands(opts: SimOptions, params_dir: Path) -> dict[str, list[str]]:
    """Node name -> command line, the same nodes and overrides as the in-process graph.

    A node's overrides go to one more parameters file, `params_dir/<node>.params.yaml`, after
    the package's, as `ros2 launch` passes a node's `parameters` dict: a later file wins over an
    earlier one, whereas rclpy lets any parameters file that sets a name win over `-p`.
    """
    base = ros_args(opts)

    def node(module: str, name: str, params: dict[str, Any],
             remaps: list[str] | None = None) -> list[str]:
        cmd = [sys.executable, "-m", f"dodge_lstm.ros.nodes.{module}", *base]
        if params:
            path = params_dir / f"{name}.params.yaml"
            path.write_text(yaml.safe_dump({name: {"ros__parameters": params}}))
            cmd += ["--params-file", str(path)]
        return [*cmd, *(remaps or [])]

    cmds = {
        "dodge_sim": node("sim_node", "dodge_sim", {
            "real_time_factor": float(opts.real_time_factor), "lockstep": opts.lockstep,
            "stamped": opts.stamped}),
        "ball_spawner": node("spawner_node", "ball_spawner", {"seed": opts.seed, **opts.spawn}),
    }
    if opts.policy == "lstm":
        shape = model_shape(opts)
        cmds["ball_features"] = node("features_node", "ball_features", {
            "timesteps": shape.timesteps, "num_slots": shape.num_slots})
        cmds["dodge_policy"] = node("policy_node", "dodge_policy", {
            "use_sim_time": True, "timesteps": shape.timesteps, "model": str(shape.path),
            "report_period": 1.0, "stamped": opts.stamped})
    else:
        cmds["expert_driver"] = node("expert_node", "expert_driver",
                                     {"use_sim_time": True, "stamped": opts.stamped})
    if opts.label:
        cmds[SHADOW_NODE] = node("expert_node", SHADOW_NODE,
                                 {"use_sim_time": True, "stamped": True}, remaps=SHADOW_REMAPS)
    cmds["dodge_markers"] = node("markers_node", "dodge_markers", {})
    if opts.record:
        recorder: dict[str, Any] = {"output_dir": opts.record}
        if (topics := recorder_topics(opts)) is not None:
            recorder["topics"] = topics
        cmds[RECORDER_NODE] = node("recorder_node", RECORDER_NODE, recorder)
    return cmds


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory of a process [MiB] from /proc (0 if it is gone or not Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


class NodeProcesses:
    """The graph's nodes as child processes, each writing `<log_dir>/<node>.log`."""

    one_at_a_time = True
    """Stop nodes one at a time (see `stop`); False stops them all at once, as ros2 launch."""

    def __init__(self, commands: dict[str, list[str]], log_dir: Path) -> None:
        self.commands = commands
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self) -> None:
        """Start every node (they find each other over DDS, in any order)."""
        for name, cmd in self.commands.items():
            with (self.log_dir / f"{name}.log").open("w") as log:
                self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def first_exited(self) -> str | None:
        """The name of a node that has already exited, if any (none should before `stop`)."""
        return next((name for name, p in self.procs.items() if p.poll() is not None), None)

    def cpu_seconds(self) -> float:
        """User + system CPU time the running nodes have used so far (from /proc)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for proc in self.procs.values():
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited, or no /proc (not Linux)
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        return total

    def rss_mb(self) -> float:
        """Resident memory of the running nodes together [MiB]."""
        return sum(rss_mb(proc.pid) for proc in self.procs.values())

    def log_tail(self, name: str, lines: int = 15) -> str:
        """The last lines of a node's log, for error messages."""
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop_order(self) -> list[str]:
        """Reverse start order, the recorder last: it keeps everyone's last words, the
        policy's zero command among them."""
        names = list(reversed(self.procs))
        return sorted(names, key=lambda name: name == RECORDER_NODE)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> dict[str, int]:
        """Ctrl-C the nodes (each publishes its last words and closes its files) and return
        the exit codes; a node still running `timeout_s` after its Ctrl-C is killed. Safe to
        call again.

        One at a time (`one_at_a_time`), not all at once as `ros2 launch` does: a Fast DDS
        participant that is being deleted while another process's endpoints go away can
        deadlock, and the node then hangs in rcl_node_fini for good (after its on_exit ran).
        A node stopping alone meets no such removals; `bench/bench_shutdown.py` counts both.
        """
        order = self.stop_order()
        if not self.one_at_a_time:
            self._interrupt(order)
        codes = {}
        for name in order:
            if self.one_at_a_time:
                self._interrupt([name])
            proc = self.procs[name]
            try:
                codes[name] = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return {name: codes[name] for name in self.procs}

    def _interrupt(self, names: list[str]) -> None:
        for name in names:
            if self.procs[name].poll() is None:
                self.procs[name].send_signal(signal.SIGINT)
