"""One process per node, as `ros2 launch` runs the graph: each node's console-script module with
the parameters file and its overrides, output to a log file per node, stopped with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dodge_lstm.ros.bringup.options import SimOptions, ros_args


def node_commands(opts: SimOptions) -> dict[str, list[str]]:
    """Node name -> command line, the same nodes and overrides as the in-process graph."""
    base = ros_args(opts)

    def node(module: str, *params: str) -> list[str]:
        extra = [arg for p in params for arg in ("-p", p)]
        return [sys.executable, "-m", f"dodge_lstm.ros.nodes.{module}", *base, *extra]

    cmds = {
        "dodge_sim": node("sim_node", f"real_time_factor:={opts.real_time_factor}",
                          f"lockstep:={str(opts.lockstep).lower()}",
                          f"stamped:={str(opts.stamped).lower()}"),
        "ball_spawner": node("spawner_node", f"seed:={opts.seed}"),
    }
    if opts.policy == "lstm":
        cmds["ball_features"] = node("features_node", f"timesteps:={opts.timesteps}")
        policy = ["use_sim_time:=true", f"timesteps:={opts.timesteps}", f"units:={opts.units}",
                  "report_period:=1.0", f"stamped:={str(opts.stamped).lower()}"]
        if opts.model:
            policy.append(f"model:={opts.model}")
        cmds["dodge_policy"] = node("policy_node", *policy)
    else:
        cmds["expert_driver"] = node("expert_node", "use_sim_time:=true",
                                     f"stamped:={str(opts.stamped).lower()}")
    cmds["dodge_markers"] = node("markers_node")
    if opts.record:
        cmds["dodge_recorder"] = node("recorder_node", f"output_dir:={opts.record}")
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

    def stop(self, timeout_s: float = 10.0) -> dict[str, int]:
        """Ctrl-C every node (they publish their last words and close files), wait, and return
        the exit codes; a node still running at the deadline is killed. Safe to call again."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        codes = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes
