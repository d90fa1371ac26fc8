"""Small helpers for tests that run real rclpy nodes: bounded spinning, nothing else."""

from __future__ import annotations

from typing import Any

# The package's own bounded spin (the bringup waits with it): never waits unboundedly, each
# spin_once is capped by the time left, so a silent graph fails a test at the deadline.
from dodge_lstm.ros.bringup.graph_executor import spin_until

__all__ = ["call_service", "spin_until"]


def call_service(executor: Any, client: Any, request: Any, timeout_s: float) -> Any:
    """Call a service through ``client`` while spinning ``executor``; ``None`` on timeout."""
    if not spin_until(executor, client.service_is_ready, timeout_s):
        return None
    future = client.call_async(request)
    if not spin_until(executor, future.done, timeout_s):
        client.remove_pending_request(future)
        return None
    return future.result()
