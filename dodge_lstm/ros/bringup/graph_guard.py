"""Refuse to bring a second graph up on a ROS domain that already runs one.

Two `dodge-lstm sim` runs (or a `ros2 launch dodge_lstm sim.launch.py` and a `dodge-lstm sim`) on
one `ROS_DOMAIN_ID` share every topic and service name: two simulators publish `odom`, two
policies answer `dodge_policy/change_state`, and the run fails somewhere in the middle, e.g. as
a refused lifecycle transition. `check_no_other_graph` looks at the domain before any graph node
starts and says what to do instead.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Iterable

from rclpy.context import Context
from rclpy.node import Node

GRAPH_NODES = ("dodge_sim", "dodge_policy")
"""Nodes a second graph must not meet: two of either break the run (two worlds publishing
`odom`; two lifecycle servers behind one `change_state`)."""

DISCOVERY_S = 1.0
"""How long to listen for other participants (returns as soon as one of `GRAPH_NODES` shows)."""

POLL_S = 0.05


def _qualified(namespace: str, name: str) -> str:
    return f"{namespace.rstrip('/')}/{name}"


def graph_nodes_seen(node: Node, names: Iterable[str] = GRAPH_NODES) -> list[str]:
    """Fully qualified names of `names` in `node`'s namespace that `node` sees on the domain."""
    wanted = set(names)
    own = node.get_namespace()
    return sorted({_qualified(ns, n) for n, ns in node.get_node_names_and_namespaces()
                   if n in wanted and ns == own})


def check_no_other_graph(context: Context, timeout_s: float | None = None,
                         names: Iterable[str] = GRAPH_NODES) -> None:
    """Raise RuntimeError (one line naming ROS_DOMAIN_ID and its value) if a node of `names`
    already runs in this namespace on `context`'s domain.

    Call it after `rclpy.init(context=...)` and before starting any graph node: it creates a
    short-lived node of its own, listens at most `timeout_s` (default `DISCOVERY_S`) for
    discovery, and destroys the node again.
    """
    timeout_s = DISCOVERY_S if timeout_s is None else timeout_s
    names = tuple(names)
    # A graph this process ran before (an earlier run_sim, a test) is no other graph: a node
    # dropped without destroy_node() keeps its rcl node, and so its name on the domain, until
    # the garbage collector frees it.
    gc.collect()
    node = Node("dodge_graph_guard", context=context, enable_rosout=False,
                start_parameter_services=False)
    try:
        deadline = time.monotonic() + timeout_s
        found = graph_nodes_seen(node, names)
        while not found and time.monotonic() < deadline:
            time.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
            found = graph_nodes_seen(node, names)
    finally:
        node.destroy_node()
    if found:
        domain = context.get_domain_id()
        env = os.environ.get("ROS_DOMAIN_ID")
        setting = f"ROS_DOMAIN_ID={env}" if env else f"ROS_DOMAIN_ID unset (domain {domain})"
        raise RuntimeError(
            f"another dodge graph already runs on this ROS domain, {setting}: "
            f"{', '.join(found)} found; stop it, or give this run a domain of its own "
            f"(e.g. ROS_DOMAIN_ID={(domain + 1) % 102 or 1} dodge-lstm sim); a node killed "
            f"without shutting down stays listed for ~20 s")
