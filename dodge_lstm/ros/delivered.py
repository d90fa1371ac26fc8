"""Taking what DDS has already delivered to a subscription, inside a callback.

An rclpy executor takes one message per subscription per round, so a node that needs every
message of a tick before it acts (the balls and outcomes before the robot's `odom`, the newest
`odom` before a detector report) drains the other subscriptions first, in order, on the
executor's own thread: nothing races.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.subscription import Subscription


def drain(sub: Subscription, callback: Callable[[Any], None]) -> None:
    """Run `callback` on every message already delivered to `sub`, oldest first."""
    with sub.handle:
        while (taken := sub.handle.take_message(sub.msg_type, sub.raw)) is not None:
            callback(taken[0])
