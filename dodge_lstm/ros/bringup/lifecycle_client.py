"""Driving a lifecycle node through its real services, as `ros2 lifecycle` and the launch file's
event handlers do: `<node>/get_state` and `<node>/change_state`, never the node object itself,
so the same code drives a node in this process or in another one.
"""

from __future__ import annotations

from typing import Any

from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rclpy.client import Client
from rclpy.executors import Executor
from rclpy.node import Node

from dodge_lstm.ros.bringup.graph_executor import spin_until

SERVICE_TIMEOUT_S = 10.0
SPIN_PERIOD_S = 0.1


def call_service(executor: Executor, client: Client, request: Any,
                 timeout_s: float = SERVICE_TIMEOUT_S) -> Any:
    """Call a service and return its response, spinning `executor` (the graph) meanwhile.

    Both waits are bounded: for the server to appear and for its answer. Raises RuntimeError
    naming the service when either runs out.
    """
    if not client.wait_for_service(timeout_sec=timeout_s):
        raise RuntimeError(f"service {client.srv_name} did not come up within {timeout_s:g} s")
    future = client.call_async(request)
    if not spin_until(executor, future.done, timeout_s, SPIN_PERIOD_S):
        client.remove_pending_request(future)
        raise RuntimeError(f"service {client.srv_name} did not answer within {timeout_s:g} s")
    return future.result()


class LifecycleClient:
    """get_state / change_state of one lifecycle node, each call with bounded waits."""

    def __init__(self, node: Node, executor: Executor, target: str,
                 timeout_s: float = SERVICE_TIMEOUT_S) -> None:
        self.target = target
        self.executor = executor
        self.timeout_s = timeout_s
        self._get = node.create_client(GetState, f"{target}/get_state")
        self._change = node.create_client(ChangeState, f"{target}/change_state")

    def get_state(self) -> str:
        """The node's current state label (`unconfigured`, `inactive`, `active`, ...)."""
        response = call_service(self.executor, self._get, GetState.Request(), self.timeout_s)
        return str(response.current_state.label)

    def change_state(self, transition: int) -> bool:
        """Request one transition (a `lifecycle_msgs/Transition` id); True if the node made it."""
        request = ChangeState.Request(transition=Transition(id=transition))
        return bool(call_service(self.executor, self._change, request, self.timeout_s).success)
