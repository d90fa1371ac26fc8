"""What the launch_testing files share (imported by path: `launch_test` runs them without the
conftest)."""

from __future__ import annotations

import os
import signal
from typing import Any

RECORDER = "dodge_recorder"


def stop_one_at_a_time(proc_info: Any, timeout_s: float = 10.0) -> None:
    """Ctrl-C the launched nodes one at a time, in reverse start order with the recorder last,
    each once the one before has exited: as `dodge-lstm sim --processes` stops them.

    launch's own shutdown Ctrl-Cs every node at once, and then, rarely, a node deadlocks inside
    Fast DDS while its participant is deleted (README, "Stopping"; `bench/bench_shutdown.py`
    counts it); its exit code would be launch's SIGKILL. The post-shutdown exit-code check
    still fails if any node does not exit cleanly on its own Ctrl-C.
    """
    started = [a for a in proc_info.processes() if a.process_details is not None]
    order = sorted(reversed(started), key=lambda a: RECORDER in a.process_details["name"])
    for action in order:
        try:
            os.kill(action.process_details["pid"], signal.SIGINT)
        except ProcessLookupError:  # already exited; the exit-code check reads how
            continue
        proc_info.assertWaitForShutdown(process=action, timeout=timeout_s)
