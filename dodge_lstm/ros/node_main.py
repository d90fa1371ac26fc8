"""The one `main()` body every single-node executable shares (as in ros2/examples)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions


def run_node(make_node: Callable[[], Node], args: list[str] | None = None,
             on_exit: Callable[[Node], None] | None = None) -> None:
    """Init, spin `make_node()` on an explicit executor until Ctrl-C, SIGTERM or an external
    shutdown, run `on_exit` (e.g. a last zero command), then tear down.

    rclpy's own signal handlers would shut the context down before `on_exit` could publish;
    instead SIGINT and SIGTERM raise KeyboardInterrupt here and the context stays usable.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    executor = SingleThreadedExecutor()
    node = make_node()
    executor.add_node(node)
    try:
        # spin_once with a timeout, not spin(): a node with no timer would otherwise sit in
        # the middle layer's wait forever and never see the KeyboardInterrupt.
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if on_exit is not None:
            on_exit(node)
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
