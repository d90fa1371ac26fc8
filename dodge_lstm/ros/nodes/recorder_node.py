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

import importlib
import json
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from rclpy.clock import Clock, ClockType
from rclpy.experimental import EventsExecutor
from rclpy.node import Node
from rclpy.topic_endpoint_info import TopicEndpointInfo
from rosbags.interfaces import Qos
from std_srvs.srv import Trigger

from dodge_lstm.bags import rosbag_io as bags
from dodge_lstm.ros.node_main import run_node
from dodge_lstm.ros.parameters import declare, destroyed_if_refused, live_parameters
from dodge_lstm.ros.recorder_qos import offered_qos, subscription_qos

# What every graph publishes (expert, teleop and LSTM alike), so no run warns "never found";
# add `dodge/window` (published only by LSTM graphs) to the `topics` parameter to record it.
# Label runs (a shadow expert) append `expert/cmd_vel` (bringup.options.recorder_topics). A
# listed topic nobody publishes costs one warning at `~/stop` ("never found"), nothing else.
DEFAULT_TOPICS = ["odom", "balls/odom", "balls/outcome", "cmd_vel", "markers"]

# How often to look for topics that have no publisher yet. Graph queries are cheap, and publishers
# that come up a little late (the simulator, the policy) should lose at most this much data.
DISCOVERY_PERIOD_S = 0.5


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


def _check_bag_settings(changes: dict[str, Any]) -> None:
    """Refuse a storage plugin the writer does not have (they are read when a bag opens)."""
    if "storage" in changes and changes["storage"] not in bags.STORAGES:
        raise ValueError(f"storage must be one of {sorted(bags.STORAGES)}, "
                         f"got {changes['storage']!r}")


class RecorderNode(Node):
    """Record a fixed set of topics, whatever their types, to rosbag2 bags on request."""

    @destroyed_if_refused
    def __init__(self, **kwargs: Any) -> None:
        """Declare parameters, start discovery and, with ``autostart``, open the first bag."""
        # Before anything can fail: destroy_node() (a refused parameter) closes the bag.
        self._bag: bags.BagWriter | None = None
        # Callbacks may run on an executor thread while main() or a test closes the bag.
        self._lock = threading.Lock()
        super().__init__("dodge_recorder", **kwargs)
        declare(self, "topics", DEFAULT_TOPICS,
                "Topics to record; relative names resolve in the node namespace",
                why="read-only: subscribed at start-up; restart the recorder to change it")
        declare(self, "output_dir", "", "Bag directory to create on the next start; empty "
                "means ./dodge_bag_<timestamp>; an existing path gets a _<n> suffix",
                read_only=False)
        declare(self, "autostart", True, "Open a bag at startup instead of waiting for ~/start")
        declare(self, "storage", "mcap", "rosbag2 storage plugin of the next bag: mcap or "
                "sqlite3", read_only=False)
        live_parameters(self, ("output_dir", "storage"), _check_bag_settings, lambda _: None)

        names = self.get_parameter("topics").get_parameter_value().string_array_value
        # Graph names are fully qualified; resolving also applies --ros-args remappings.
        self._pending: set[str] = {self.resolve_topic_name(name) for name in names}
        self._topics: dict[str, _Topic] = {}
        self._counts: dict[str, TopicCounts] = {}

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
        topic = _Topic(msgtype, [offered_qos(p.qos_profile) for p in publishers])
        qos = subscription_qos(publishers)
        with self._lock:
            self._topics[name] = topic
            if self._bag is not None:
                self._add_to_bag(self._bag, name, topic)
        self.create_subscription(
            msg_class, name, lambda data: self._on_message(name, data), qos, raw=True
        )
        self.get_logger().info(
            f"recording {name} [{msgtype}] {qos.reliability.name.lower()} "
            f"{qos.durability.name.lower()}"
        )

    def _add_to_bag(self, bag: bags.BagWriter, name: str, topic: _Topic) -> None:
        bag.add_topic(name, topic.msgtype, qos=topic.offered_qos)
        self._counts[name] = TopicCounts()

    # -- writing ---------------------------------------------------------------------------

    def _on_message(self, name: str, data: bytes) -> None:
        """Append raw CDR bytes, stamped with the node clock (sim time under use_sim_time)."""
        with self._lock:
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


def main(args: list[str] | None = None) -> None:
    """Run the recorder until Ctrl-C / SIGTERM, then close the bag."""
    # EventsExecutor (public, experimental): the wait-set executors take one message per
    # subscription per wait, ~6k msgs/s in a flood on a 2-core machine, and the deep queue then
    # overflows; this one keeps up (~40k/s, bench/bench_recorder.py). on_exit closes the bag
    # after the last callback has run, so the file is complete.
    run_node(RecorderNode, EventsExecutor, args, on_exit=RecorderNode.stop_bag)


if __name__ == "__main__":
    main()
