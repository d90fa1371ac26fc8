"""``dodge_recorder``: record the dodge topics to a rosbag2 (MCAP) bag without ros2 bag.

The machine running the game may have rclpy from wheels but no rosbag2, so this node records
itself: it discovers each topic's type from the graph, subscribes RAW (CDR bytes, never
deserialized) and appends the bytes to a bag through :mod:`dodge_lstm.bags.rosbag_io`.

Services ``~/start`` and ``~/stop`` (``std_srvs/Trigger``) open and close bags; the reply message
of both is JSON ``{"path": ..., "topics": {name: {"received", "written", "failed"}}}``: for
``~/start`` the bag being written and its counts so far (calling it while recording is a status
query), for ``~/stop`` the closed bag and its final counts.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import signal
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
)
from rclpy.signals import SignalHandlerOptions
from rclpy.subscription import Subscription
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from std_srvs.srv import Trigger

from dodge_lstm.bags import rosbag_io as bags

DEFAULT_TOPICS = ["odom", "balls/odom", "cmd_vel", "balls/outcome", "dodge/window"]

# How often to look for topics that have no publisher yet. Graph queries are cheap, and publishers
# that come up a little late (the simulator, the policy) should lose at most this much data.
DISCOVERY_PERIOD_S = 0.5

# Subscription history depth. The DDS reader queue is the only buffer between the wire and this
# Python callback, and the callback stalls now and then: every 1 MiB the bag writer flushes a
# chunk, the garbage collector runs, a service call is answered. With keep-last, a full queue
# silently discards the oldest sample, so the depth must cover the longest stall at the highest
# rate: 5000 samples is half a second at 10 kHz, far beyond the 10-50 Hz the game publishes at,
# for at most a few MB of memory per topic.
SUBSCRIPTION_DEPTH = 5000

# Messages taken per callback. rclpy's executors pay for a full wait (building a wait set over
# every entity) per message, which caps a Python subscriber at ~7k msgs/s on this class of machine;
# taking the queued backlog straight from the subscription inside one callback amortises that over
# a burst. The cap keeps services and the discovery timer served while a flood goes on.
DRAIN_LIMIT = 256


@dataclass(slots=True)
class TopicCounts:
    """Per-topic message counts for the bag being written."""

    received: int = 0
    written: int = 0
    failed: int = 0


@dataclass(slots=True)
class _Topic:
    """What discovery learnt about one recorded topic."""

    msgtype: str
    offered_qos: list[Qos]


def _message_class(msgtype: str) -> Any:
    """Import the Python message class for ``pkg/msg/Name`` (rosidl_runtime_py is not a wheel)."""
    package, interface, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{package}.{interface}"), name)


def _qos_time(duration: Any) -> QosTime:
    nanoseconds = int(duration.nanoseconds)
    return QosTime(nanoseconds // 1_000_000_000, nanoseconds % 1_000_000_000)


def _offered_qos(profile: QoSProfile) -> Qos:
    """Convert a publisher's QoS to the rosbags form stored in the bag metadata.

    rclpy and rosbags both mirror the rmw enums, so the integer values carry over.
    """
    return Qos(
        history=QosHistory(int(profile.history)),
        depth=int(profile.depth),
        reliability=QosReliability(int(profile.reliability)),
        durability=QosDurability(int(profile.durability)),
        deadline=_qos_time(profile.deadline),
        lifespan=_qos_time(profile.lifespan),
        liveliness=QosLiveliness(int(profile.liveliness)),
        liveliness_lease_duration=_qos_time(profile.liveliness_lease_duration),
        avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions),
    )


def subscription_qos(publishers: list[TopicEndpointInfo]) -> QoSProfile:
    """Pick a subscription QoS that matches every current publisher and loses nothing.

    Reliable when all publishers are reliable (a reliable reader would not match a best-effort
    writer at all), transient-local when all publishers latch (so their history reaches the bag),
    keep-last with a deep queue for bursts (see ``SUBSCRIPTION_DEPTH``).
    """
    reliable = all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in publishers)
    latched = all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in publishers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class RecorderNode(Node):
    """Record a fixed set of topics, whatever their types, to rosbag2 bags on request."""

    def __init__(self, **kwargs: Any) -> None:
        """Declare parameters, start discovery and, with ``autostart``, open the first bag."""
        super().__init__("dodge_recorder", **kwargs)
        self.declare_parameter(
            "topics",
            DEFAULT_TOPICS,
            ParameterDescriptor(
                description="Topics to record; relative names resolve in the node namespace.",
                read_only=True,
            ),
        )
        self.declare_parameter(
            "output_dir",
            "",
            ParameterDescriptor(
                description="Bag directory to create on start; empty means "
                "./dodge_bag_<timestamp>. An existing path gets a _<n> suffix."
            ),
        )
        self.declare_parameter(
            "autostart",
            True,
            ParameterDescriptor(
                description="Open a bag at startup instead of waiting for ~/start."
            ),
        )
        self.declare_parameter(
            "storage",
            "mcap",
            ParameterDescriptor(description="rosbag2 storage plugin: mcap or sqlite3."),
        )

        names = self.get_parameter("topics").get_parameter_value().string_array_value
        # Graph names are fully qualified; resolving also applies --ros-args remappings.
        self._pending: set[str] = {self.resolve_topic_name(name) for name in names}
        self._topics: dict[str, _Topic] = {}
        self._counts: dict[str, TopicCounts] = {}
        self._bag: bags.BagWriter | None = None
        # Callbacks may run on an executor thread while main() or a test closes the bag.
        self._lock = threading.Lock()

        self._start_srv = self.create_service(Trigger, "~/start", self._on_start)
        self._stop_srv = self.create_service(Trigger, "~/stop", self._on_stop)
        # Steady clock: with use_sim_time a node-clock timer would never fire before /clock.
        self._discovery_timer = self.create_timer(
            DISCOVERY_PERIOD_S, self._discover, clock=Clock(clock_type=ClockType.STEADY_TIME)
        )
        self._discover()
        if self.get_parameter("autostart").value:
            self.start_bag()

    # -- discovery -------------------------------------------------------------------------

    def _discover(self) -> None:
        """Subscribe to every pending topic that now has a publisher; stop once all are found."""
        if not self._pending:
            return
        types = dict(self.get_topic_names_and_types())
        for name in sorted(self._pending):
            if name not in types:
                continue
            publishers = self.get_publishers_info_by_topic(name)
            if not publishers:
                continue  # only subscribers so far: their QoS says nothing about the writers
            msgtype = types[name][0]
            if len(types[name]) > 1:
                self.get_logger().warning(
                    f"{name} has several types {types[name]}; using {msgtype}"
                )
            self._pending.discard(name)
            try:
                self._subscribe(name, msgtype, publishers)
            except Exception as err:  # one bad topic must not stop the others
                self.get_logger().error(f"cannot record {name} ({msgtype}): {err}")
        if not self._pending:
            self._discovery_timer.cancel()
            self.get_logger().info("all topics found")

    def _subscribe(self, name: str, msgtype: str, publishers: list[TopicEndpointInfo]) -> None:
        if msgtype not in bags.typestore().fielddefs:
            raise KeyError(f"{msgtype} is not in the {bags.TYPESTORE.value} typestore")
        msg_class = _message_class(msgtype)
        topic = _Topic(msgtype, [_offered_qos(p.qos_profile) for p in publishers])
        qos = subscription_qos(publishers)
        with self._lock:
            self._topics[name] = topic
            if self._bag is not None:
                self._add_to_bag(self._bag, name, topic)
        subscription: Subscription | None = None

        def on_message(data: bytes) -> None:
            assert subscription is not None
            self._on_messages(name, data, subscription)

        subscription = self.create_subscription(msg_class, name, on_message, qos, raw=True)
        self.get_logger().info(
            f"recording {name} [{msgtype}] {qos.reliability.name.lower()} "
            f"{qos.durability.name.lower()}"
        )

    def _add_to_bag(self, bag: bags.BagWriter, name: str, topic: _Topic) -> None:
        bag.add_topic(name, topic.msgtype, qos=topic.offered_qos)
        self._counts[name] = TopicCounts()

    # -- writing ---------------------------------------------------------------------------

    def _on_messages(self, name: str, data: bytes, subscription: Subscription) -> None:
        """Write ``data`` and whatever else is already queued on ``subscription`` (up to a cap)."""
        handle = subscription.handle
        with self._lock:
            for _ in range(DRAIN_LIMIT):
                self._write(name, data)
                # The same take the executor does, minus the wait: None once the queue is empty.
                with handle:
                    taken = handle.take_message(subscription.msg_type, True)
                if taken is None:
                    return
                data = taken[0]
            self._write(name, data)

    def _write(self, name: str, data: bytes) -> None:
        """Append raw CDR bytes, stamped with the node clock (sim time under use_sim_time)."""
        bag = self._bag
        if bag is None:
            return  # not recording: drop
        counts = self._counts[name]
        counts.received += 1
        try:
            bag.write(name, data, self.get_clock().now().nanoseconds)
        except Exception as err:  # count and keep recording the rest
            counts.failed += 1
            if counts.failed == 1:
                self.get_logger().error(f"writing {name} failed: {err}")
        else:
            counts.written += 1

    def _next_bag_path(self) -> Path:
        output_dir = str(self.get_parameter("output_dir").value)
        base = Path(output_dir or f"dodge_bag_{datetime.now():%Y%m%d_%H%M%S}")
        path, n = base, 0
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}_{n}")
        return path

    def start_bag(self) -> Path:
        """Open a new bag if none is open; return the path being written."""
        with self._lock:
            if self._bag is not None:
                return self._bag.path
            bag = bags.open_writer(
                self._next_bag_path(), storage=str(self.get_parameter("storage").value)
            )
            self._counts = {}
            for name, topic in self._topics.items():
                self._add_to_bag(bag, name, topic)
            self._bag = bag
        self.get_logger().info(f"recording to {bag.path}")
        return bag.path

    def stop_bag(self) -> dict[str, Any] | None:
        """Close the open bag (a complete, indexed file); return its path and counts."""
        with self._lock:
            bag, self._bag = self._bag, None
            if bag is None:
                return None
            path = bag.close()
            counts = {name: asdict(c) for name, c in sorted(self._counts.items())}
        self.get_logger().info(f"closed {path}")
        for name, c in counts.items():
            self.get_logger().info(
                f"  {name}: received {c['received']} written {c['written']} failed {c['failed']}"
            )
        missing = sorted(self._pending)
        if missing:
            self.get_logger().warning(f"  never found: {', '.join(missing)}")
        return {"path": str(path), "topics": counts}

    def counts(self) -> dict[str, TopicCounts]:
        """Snapshot of the counts for the bag being written (empty if none)."""
        with self._lock:
            return {name: TopicCounts(**asdict(c)) for name, c in self._counts.items()}

    def status(self) -> dict[str, Any]:
        """Path of the bag being written (``None`` if none) and its per-topic counts."""
        with self._lock:
            bag = self._bag
            return {
                "path": None if bag is None else str(bag.path),
                "topics": {name: asdict(c) for name, c in sorted(self._counts.items())},
            }

    # -- services --------------------------------------------------------------------------

    def _on_start(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        # Idempotent: while recording, the reply is a status report (path and counts so far).
        try:
            self.start_bag()
            response.message = json.dumps(self.status())
            response.success = True
        except Exception as err:  # report to the caller instead of crashing
            response.success = False
            response.message = f"cannot open bag: {err}"
        return response

    def _on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            summary = self.stop_bag()
        except Exception as err:
            response.success = False
            response.message = f"cannot close bag: {err}"
            return response
        response.success = summary is not None
        response.message = json.dumps(summary) if summary else "not recording"
        return response

    def destroy_node(self) -> None:
        """Close the bag first, so a shutdown always leaves a readable file."""
        self.stop_bag()
        super().destroy_node()


# Signals that end the recorder; main() turns both into KeyboardInterrupt.
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def main(args: list[str] | None = None) -> None:
    """Run the recorder until Ctrl-C / SIGTERM, then close the bag."""
    # rclpy's own handlers would shut the context down the moment a signal lands, before the bag
    # is closed and its summary logged; here both signals raise KeyboardInterrupt in main().
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    node = None
    executor = SingleThreadedExecutor()
    # Spin off the main thread: Python raises KeyboardInterrupt only in the main thread, so a
    # signal can never interrupt a callback half way through a bag write.
    spun = threading.Event()
    spinner = threading.Thread(target=_spin, args=(executor, spun), name="spin", daemon=True)
    try:
        node = RecorderNode()
        executor.add_node(node)
        spinner.start()
        # Not spinner.join(): on Python 3.11 a join interrupted by Ctrl-C marks the thread
        # stopped while it still runs, and a thread inside rclpy at exit aborts the process.
        spun.wait()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        # A second Ctrl-C must not cut the bag's closing short (every wait below is bounded).
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        if node is not None:
            node.stop_bag()  # first, while logging still reaches /rosout; waits for a write
        # Shutting the context down is how rclpy's own SIGINT handling wakes a waiting executor;
        # Executor.shutdown() instead destroys its guard condition under a waiting spinner.
        rclpy.try_shutdown()
        if spinner.ident is not None and spun.wait(timeout=5.0):
            spinner.join()
        executor.shutdown()
        if node is not None:
            node.destroy_node()


def _spin(executor: Executor, done: threading.Event) -> None:
    try:
        with contextlib.suppress(ExternalShutdownException):
            executor.spin()
    finally:
        done.set()


if __name__ == "__main__":
    main()
