"""One process per node, as `ros2 launch` runs the graph: each node's console-script module with
the parameters file and its overrides (`graph_nodes`), output to a log file per node, stopped
with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from dodge_lstm.ros.bringup.graph_nodes import graph_nodes
from dodge_lstm.ros.bringup.options import SimOptions, checked_params_path

RECORDER_NODE = "dodge_recorder"

STOP_TIMEOUT_S = 10.0
"""How long one node may take to exit after its Ctrl-C before it is killed [s]."""


def node_commands(opts: SimOptions, params_dir: Path) -> dict[str, list[str]]:
    """Node name -> command line: `graph_nodes(opts)`, each as `python -m <its module>` with the
    `--ros-args` a launch file's Node gets (the parameters file, then the node's overrides
    file in `params_dir`, then its remappings)."""
    params = checked_params_path(opts)
    return {spec.name: [sys.executable, "-m", spec.module, *spec.ros_args(params, params_dir)]
            for spec in graph_nodes(opts)}


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
