"""The one `main()` body every node executable shares (as in ros2/examples).

Callbacks run on a spinner thread, never on the main thread: Python raises KeyboardInterrupt
only in the main thread, so a signal cannot land half way through a callback (a bag write, a
lifecycle transition, a publish). The main thread waits for SIGINT/SIGTERM or an external
shutdown, then tears down in order, every step bounded: stop the spinner, `on_exit`, executor,
node, context.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

import rclpy
from rclpy.executors import Executor, ExternalShutdownException
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

N = TypeVar("N", bound=Node)

# Signals that end a node. `ros2 launch` plus a Ctrl-C in its terminal delivers two SIGINTs.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Spinner wake-up period: how often it checks for the stop request and context shutdown even
# if no wake-up reaches it.
SPIN_PERIOD_S = 0.1

# Longest wait for the spinner to finish its current callback, and for the executor to stop.
STOP_TIMEOUT_S = 5.0


def run_node(make_node: Callable[[], N], make_executor: Callable[[], Executor],
             args: list[str] | None = None, on_exit: Callable[[N], object] | None = None,
             ) -> None:
    """Init, spin `make_node()` on `make_executor()` until Ctrl-C, SIGTERM or an external
    shutdown, run `on_exit` (e.g. a last zero command) and tear down.

    rclpy's own signal handlers would shut the context down before `on_exit` could publish;
    here the first SIGINT/SIGTERM raises KeyboardInterrupt in the main thread and every later
    one is ignored, so a second Ctrl-C cannot cut the cleanup short.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_once)
    node: N | None = None
    executor: Executor | None = None
    stop = threading.Event()
    spun = threading.Event()
    failed: list[BaseException] = []
    spinner: threading.Thread | None = None
    try:
        rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
        executor = make_executor()
        node = make_node()
        executor.add_node(node)
        spinner = threading.Thread(target=_spin, args=(executor, stop, spun, failed),
                                   name="spin", daemon=True)
        spinner.start()
        # Not spinner.join(): on Python 3.11 a join interrupted by Ctrl-C marks the thread
        # stopped while it still runs, and a thread inside rclpy at exit aborts the process.
        spun.wait()
    except KeyboardInterrupt:
        pass
    finally:
        _ignore_stop_signals()  # the handler did already, unless the spinner ended by itself
        stop.set()
        if executor is not None:
            executor.wake()
        # No callback runs after this (unless one is stuck): on_exit has the last word.
        stopped = spinner is None or spun.wait(STOP_TIMEOUT_S)
        try:
            # After an external shutdown the context has already destroyed the node.
            if on_exit is not None and node is not None and rclpy.ok():
                on_exit(node)
        finally:
            if stopped and executor is not None:
                executor.shutdown(timeout_sec=STOP_TIMEOUT_S)
            if node is not None:
                node.destroy_node()
            # Also wakes a spinner stuck past STOP_TIMEOUT_S; its loop ends on the dead context.
            rclpy.try_shutdown()
            if not stopped:
                spun.wait(STOP_TIMEOUT_S)
    if failed:
        # A callback raised: the node is gone, and says why with a non-zero exit (a thread's
        # traceback would race the process exit, and the exit code would read "clean").
        raise failed[0]


def _spin(executor: Executor, stop: threading.Event, done: threading.Event,
          failed: list[BaseException]) -> None:
    """spin_once in a loop, not spin(): the loop sees `stop` without shutting the context
    down (on_exit still needs it), and rclpy's EventsExecutor.spin() never returns here. An
    exception from a callback ends the loop and is handed to the main thread (`failed`)."""
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_PERIOD_S)
    except ExternalShutdownException:
        pass
    except BaseException as exc:  # re-raised in the main thread
        failed.append(exc)
    finally:
        done.set()


def _stop_once(signum: int, frame: FrameType | None) -> None:
    """First stop signal: ignore the rest, then unwind the main thread."""
    _ignore_stop_signals()
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
