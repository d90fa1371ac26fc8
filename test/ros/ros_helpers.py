"""Small helpers for tests that run real rclpy nodes: bounded spinning, nothing else."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def spin_until(
    executor: Any, predicate: Callable[[], bool], timeout_s: float, step_s: float = 0.05
) -> bool:
    """Spin ``executor`` until ``predicate()`` holds or ``timeout_s`` passes; return the predicate.

    Never waits unboundedly: each ``spin_once`` is capped by the time left, so a silent graph
    fails the test at the deadline instead of hanging it.
    """
    deadline = time.monotonic() + timeout_s
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return bool(predicate())
        executor.spin_once(timeout_sec=min(step_s, remaining))
    return True


def call_service(executor: Any, client: Any, request: Any, timeout_s: float) -> Any:
    """Call a service through ``client`` while spinning ``executor``; ``None`` on timeout."""
    if not spin_until(executor, client.service_is_ready, timeout_s):
        return None
    future = client.call_async(request)
    if not spin_until(executor, future.done, timeout_s):
        client.remove_pending_request(future)
        return None
    return future.result()
