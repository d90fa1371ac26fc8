"""The executor `dodge-lstm sim` spins its nodes on, and its Ctrl-C.

rclpy's `SingleThreadedExecutor` rebuilds its wait set from every entity of every node (each
node's parameter services, every QoS event handler) in Python before each wait: with the whole
graph in one process that was 40-60% of a lockstep tick (README, "Where a lockstep tick goes").
rclpy's `EventsExecutor` (public, in `rclpy.experimental` since Jazzy; the recorder already runs
on it) is told by rmw which entity has work and dispatches it from C++, in arrival order. It is
the default (`--executor events`); `--executor single` keeps the other as a fallback.

Two things it does differently, handled here for both:
- it installs its own SIGINT/SIGTERM handlers (asio) that shut the context down, which would
  leave no graph to deactivate, report and stop the recorder with. `GraphExecutor` puts Python
  handlers back on top: SIGINT sets `interrupted` (the run ends at its next check, the summary is
  made as before), a second SIGINT raises KeyboardInterrupt; SIGTERM keeps what it had.
- rclpy 9.1's EventsExecutor calls a callback that takes `MessageInfo` with one argument, the
  (message, info) tuple: `WithMessageInfo` adapts such a callback to both calling conventions.

`spin_until` is the one bounded wait the bringup uses (service answers, the recorder, the last
report) with either executor.
"""

from __future__ import annotations

import contextlib
import inspect
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from rclpy.context import Context
from rclpy.executors import Executor, SingleThreadedExecutor
from rclpy.experimental import EventsExecutor

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def spin_until(executor: Executor, done: Callable[[], bool], timeout_s: float,
               step_s: float = 0.05) -> bool:
    """Spin `executor` one callback at a time until `done()` or `timeout_s` of wall time has
    passed; returns `done()`. Not `spin_until_future_complete`: rclpy 9.1's EventsExecutor runs
    that until no work is left, past its timeout, and a lockstep graph always has work."""
    deadline = time.monotonic() + timeout_s
    while not done() and (left := deadline - time.monotonic()) > 0:
        executor.spin_once(timeout_sec=min(left, step_s))
    return done()


class WithMessageInfo:
    """A subscription callback `fn(msg, info)` that works under every rclpy executor.

    rclpy decides from a callback's signature whether to pass the `MessageInfo`: this object
    declares two parameters, so rclpy marks it as wanting it; the wait-set executors then call
    it with two arguments, rclpy 9.1's EventsExecutor with one (msg, info) tuple.
    """

    __signature__ = inspect.Signature([
        inspect.Parameter("msg", inspect.Parameter.POSITIONAL_ONLY),
        inspect.Parameter("info", inspect.Parameter.POSITIONAL_ONLY),
    ])

    def __init__(self, fn: Callable[[Any, Any], None]) -> None:
        self.fn = fn

    def __call__(self, *args: Any) -> None:
        msg, info = args if len(args) == 2 else args[0]
        self.fn(msg, info)


def _events_executor(context: Context) -> Executor:
    """rclpy's EventsExecutor, made with the process's own stderr in place: it enables
    `faulthandler` on `sys.stderr`, which must be a real file (pytest's capture and a notebook's
    stream are not)."""
    with contextlib.redirect_stderr(sys.__stderr__ or sys.stderr):
        return EventsExecutor(context=context)


class GraphExecutor:
    """The executor for `context` (`kind`: `events` or `single`, see `SimOptions.executor`),
    whose SIGINT ends a run instead of the context.

    The handlers go in when it is made (in the main thread only: Python sets signal handlers
    there). Call `restore_signals()` once the executor is gone: asio puts SIG_DFL back when an
    EventsExecutor is destroyed, and the handlers from before must win over that.
    """

    def __init__(self, context: Context, kind: str = "events") -> None:
        self._main = threading.current_thread() is threading.main_thread()
        self._previous = {s: signal.getsignal(s) for s in HANDLED_SIGNALS} if self._main else {}
        self.executor: Executor = (_events_executor(context) if kind == "events"
                                   else SingleThreadedExecutor(context=context))
        self.interrupted = False
        """Set by the first SIGINT: the run loop ends at its next check."""
        if self._main:
            signal.signal(signal.SIGINT, self._on_sigint)
            signal.signal(signal.SIGTERM, self._previous[signal.SIGTERM])

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        """First Ctrl-C: end the run with a summary; a second one: stop now."""
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True

    def release(self) -> None:
        """Drop this object's hold on the executor: it goes with the last node that holds it."""
        del self.executor

    def restore_signals(self) -> None:
        """Put back the handlers there were before this executor (also over asio's SIG_DFL)."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
