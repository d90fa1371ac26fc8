"""Stopping the one-process-per-node graph: all nodes at once (as `ros2 launch` does) against
one at a time (as `dodge-lstm sim --processes` does).

Why: with every node Ctrl-C'd at once, a Fast DDS participant being deleted can meet another
process's endpoints going away and deadlock; the node then hangs in rcl_node_fini (after its
last zero command and bag close) until it is killed. This runs the same short graph many times
each way, alternating, next to `--companions` other graphs that start and stop over and over
on domains of their own, and counts the nodes that had to be killed. Prints a table, writes
JSON. The race is rare: one CI run met it, and side-by-side loops here 4 times in about 108
all-at-once stops, but runs of this bench (a lone graph idle, beside two busy loops, beside a
companion graph; 30-50 runs per way) met it 0 times either way.

    .venv/bin/python bench/bench_shutdown.py [--runs 30] [--duration 8] [--companions 1]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

STOP_TIMEOUT_S = 5.0  # a node that has not exited by then is taken as hung (normal: < 1 s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="graph runs per way of stopping")
    parser.add_argument("--duration", type=float, default=8.0, help="simulated s per run")
    parser.add_argument("--companions", type=int, default=1,
                        help="other graphs starting and stopping all along, each on its own domain")
    parser.add_argument("--companion", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/shutdown.json"))
    args = parser.parse_args()
    os.environ.setdefault("ROS_DOMAIN_ID", str(40 + os.getpid() % 50))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if args.companion:  # runs graphs until killed; what it measures does not count
        from dodge_lstm.ros.bringup.graph import run_sim
        from dodge_lstm.ros.bringup.options import SimOptions

        while True:
            run_sim(SimOptions(duration=args.duration, policy="lstm", processes=True))

    from tqdm import tqdm

    from dodge_lstm.ros.bringup import processes
    from dodge_lstm.ros.bringup.graph import run_sim
    from dodge_lstm.ros.bringup.options import SimOptions

    stop = processes.NodeProcesses.stop
    # Shorter than the product's 10 s: only hung nodes wait it out, and there are two ways.
    processes.NodeProcesses.stop = lambda self, timeout_s=STOP_TIMEOUT_S: stop(self, timeout_s)
    load_before = os.getloadavg()
    ways = {"all at once (ros2 launch)": False, "one at a time (sim --processes)": True}
    hung: dict[str, list[dict[str, int]]] = {way: [] for way in ways}
    stop_s: dict[str, list[float]] = {way: [] for way in ways}
    domain = int(os.environ["ROS_DOMAIN_ID"])
    companions = [subprocess.Popen(
        [sys.executable, __file__, "--companion", "--duration", str(args.duration)],
        env=os.environ | {"ROS_DOMAIN_ID": str(domain + 1 + i)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for i in range(args.companions)]
    try:
        for _ in tqdm(range(args.runs), unit="run pair"):
            for way, one_at_a_time in ways.items():  # alternating: both see the same machine
                processes.NodeProcesses.one_at_a_time = one_at_a_time
                t0 = time.perf_counter()
                summary = run_sim(SimOptions(duration=args.duration, policy="lstm",
                                             processes=True, progress=False))
                stop_s[way].append(time.perf_counter() - t0 - summary["wall_seconds"])
                codes = summary["exit_codes"]
                if any(code != 0 for code in codes.values()):
                    hung[way].append({n: c for n, c in codes.items() if c != 0})
    finally:
        for companion in companions:  # its node processes too: they share its session
            os.killpg(companion.pid, signal.SIGKILL)
            companion.wait()
    results = {way: {"runs": args.runs, "runs_with_a_killed_node": len(hung[way]),
                     "killed": hung[way],
                     "start_and_stop_s_median": sorted(stop_s[way])[args.runs // 2]}
               for way in ways}

    print(f"{'way of stopping':<34}{'runs':>6}{'runs with a hung node':>24}{'start+stop [s]':>16}")
    for way, r in results.items():
        print(f"{way:<34}{r['runs']:>6}{r['runs_with_a_killed_node']:>24}"
              f"{r['start_and_stop_s_median']:>16.1f}")
    killed_by = {-signal.SIGKILL: "SIGKILL"}
    for way, r in results.items():
        for codes in r["killed"]:
            print(f"  {way}: " + ", ".join(f"{n} {killed_by.get(c, c)}" for n, c in codes.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"results": results, "duration": args.duration,
                                    "stop_timeout_s": STOP_TIMEOUT_S,
                                    "companions": args.companions,
                                    "loadavg_before": load_before}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
