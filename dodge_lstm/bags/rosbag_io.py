"""Thin helpers over `rosbags` for writing and reading rosbag2 bags.

Writing takes messages that are already CDR-serialized (what an rclpy ``raw=True`` subscription
hands over: the 4-byte encapsulation header followed by the payload), so the recorder never
deserializes. Reading deserializes with the definitions embedded in the bag, falling back to the
ROS 2 Kilted typestore, and works on MCAP and sqlite3 bags alike.

A recorder killed with SIGKILL (or a power cut) never closes its bag: the MCAP file has no
summary and no end magic, and the bag directory no ``metadata.yaml``. Two things keep such a bag
useful. The MCAP writer hands a chunk to the operating system as soon as its first message is
``FLUSH_PERIOD_S`` old (rosbags alone keeps up to 1 MiB, minutes of a game's recording, in
memory), so at most that much of the recording is ever unwritten. And ``read_messages``
recovers an unclosed MCAP file by scanning its records in file order up to the last complete
chunk, with a ``BagRecoveredWarning`` saying what was read.

This module imports no rclpy: the dataset tooling reads bags on machines without ROS.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, NamedTuple, Self

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.serde import SerdeError
from rosbags.typesys import (
    Stores,
    get_typestore,
)
from rosbags.typesys.store import Typestore

__all__ = [
    "BAG_VERSION",
    "FLUSH_PERIOD_S",
    "STORAGES",
    "TYPESTORE",
    "BagError",
    "BagMessage",
    "BagRecoveredWarning",
    "BagWriter",
    "bag_summary",
    "open_writer",
    "read_messages",
    "typestore",
]

# Message definitions of the distro the wheels are built from (Kilted). For the message types this
# package uses (geometry_msgs, nav_msgs, std_msgs) the RIHS01 hashes equal Jazzy's.
TYPESTORE = Stores.ROS2_KILTED

# rosbag2 metadata version 9 is what Jazzy and later write; rosbags writes 8 or 9.
BAG_VERSION = 9

STORAGES: dict[str, StoragePlugin] = {
    "mcap": StoragePlugin.MCAP,
    "sqlite3": StoragePlugin.SQLITE3,
}


@cache
def typestore() -> Typestore:
    """Return the shared typestore (building one parses every definition, so do it once)."""
    return get_typestore(TYPESTORE)


# A chunk of the MCAP file being written is closed, written and flushed to the operating system
# once its first message is this old (wall clock), or at rosbags' own 1 MiB. What a SIGKILL can
# lose is the open chunk: less than this span of received messages. Half a second keeps the loss
# well under a second at ~2 chunks a second, ~0.2 KB of records and index each (a game's 30 s
# arena bag: 650 KB instead of 640 KB).
FLUSH_PERIOD_S = 0.5


class _FlushingMcapWriter(McapWriter):
    """rosbags' MCAP storage writer with a time bound on the chunk held in memory.

    rosbags 0.11 has no knob for this: its chunk is a BytesIO closed only at 1 MiB or on close.
    This subclass uses its ``chunk`` / ``close_chunk`` / ``bio`` (checked by test/bags).
    """

    flush_period_s = FLUSH_PERIOD_S
    clock = staticmethod(time.monotonic)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._chunk_started: float | None = None  # monotonic time of the chunk's first message

    def write(self, connection: Connection, timestamp: int, data: bytes | memoryview) -> None:
        if self._chunk_started is None:
            self._chunk_started = self.clock()
        super().write(connection, timestamp, data)  # closes the chunk itself past 1 MiB
        if self.chunk.msgs and self.clock() - self._chunk_started >= self.flush_period_s:
            self.close_chunk()

    def close_chunk(self) -> None:
        super().close_chunk()
        self.bio.flush()  # into the OS page cache: survives the process, not a power cut
        self._chunk_started = None


class _Writer(Writer):
    """rosbags' rosbag2 writer with the time-bounded MCAP storage."""

    STORAGE_PLUGINS: ClassVar[Mapping[StoragePlugin, Any]] = {
        **Writer.STORAGE_PLUGINS, StoragePlugin.MCAP: _FlushingMcapWriter}


class BagWriter:
    """A rosbag2 writer keyed by topic name, for already-serialized CDR messages.

    One connection per topic: a topic is added once with its type, then written by name.
    Closing is idempotent, so a node may close from its destroy path and from ``main``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        storage: str = "mcap",
        store: Typestore | None = None,
    ) -> None:
        """Create and open the bag directory ``path``, which must not exist yet."""
        if storage not in STORAGES:
            raise ValueError(f"unknown storage {storage!r}; expected one of {sorted(STORAGES)}")
        self.path = Path(path)
        self.storage = storage
        self._store = store if store is not None else typestore()
        self._writer: Writer | None = _Writer(
            self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage]
        )
        self._writer.open()
        self._connections: dict[str, Connection] = {}
        self.counts: dict[str, int] = {}

    @property
    def is_open(self) -> bool:
        """Whether the bag still accepts messages."""
        return self._writer is not None

    @property
    def topics(self) -> dict[str, str]:
        """Map each added topic to its message type."""
        return {topic: conn.msgtype for topic, conn in self._connections.items()}

    def add_topic(self, topic: str, msgtype: str, *, qos: Sequence[Qos] = ()) -> None:
        """Register ``topic`` with ROS type name ``msgtype`` (e.g. ``nav_msgs/msg/Odometry``).

        The message definition and type hash come from the typestore, so a type unknown to it
        raises ``KeyError``-like ``rosbags`` errors here, before any message is written.
        ``qos`` is stored as the topic's offered QoS profiles (used by ``ros2 bag play``).
        """
        if self._writer is None:
            raise RuntimeError(f"bag {self.path} is closed")
        known = self._connections.get(topic)
        if known is not None:
            if known.msgtype != msgtype:
                raise ValueError(f"{topic} already added with type {known.msgtype}")
            return
        self._connections[topic] = self._writer.add_connection(
            topic, msgtype, typestore=self._store, offered_qos_profiles=list(qos)
        )
        self.counts[topic] = 0

    def write(self, topic: str, data: bytes | memoryview, timestamp_ns: int) -> None:
        """Append one CDR-serialized message (with its encapsulation header) to ``topic``."""
        if self._writer is None:
            raise RuntimeError(f"bag {self.path} is closed")
        self._writer.write(self._connections[topic], timestamp_ns, data)
        self.counts[topic] += 1

    def close(self) -> Path:
        """Flush the last chunk, write the summary and ``metadata.yaml``; return the bag path."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        return self.path

    def __enter__(self) -> Self:
        """Use as a context manager; the bag is already open."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close even on error: what was written so far stays readable."""
        self.close()


def open_writer(path: str | Path, *, storage: str = "mcap") -> BagWriter:
    """Open a new rosbag2 bag at ``path`` (a directory) with the given storage plugin."""
    return BagWriter(path, storage=storage)


class BagMessage(NamedTuple):
    """One message read from a bag; ``msg`` is a rosbags dataclass with the ROS field names."""

    topic: str
    msgtype: str
    timestamp_ns: int
    msg: Any


class BagError(ValueError):
    """A bag that cannot be read: missing, truncated or corrupt; the message says which."""


class BagRecoveredWarning(UserWarning):
    """A bag that was never closed was read up to its last complete chunk."""


NEVER_CLOSED = "it was never closed (a recorder killed before it finished?)"


def _bag_error(path: str | Path, exc: Exception) -> BagError:
    text = str(exc)
    hint = (NEVER_CLOSED if "end magic" in text or "footer" in text.lower() else
            "it is not a rosbag2 bag directory or a .mcap/.db3 file, or it is corrupt")
    return BagError(f"bag {path} cannot be read ({type(exc).__name__}: {text}): {hint}")


def read_messages(path: str | Path, *, topics: Iterable[str] | None = None) -> Iterator[BagMessage]:
    """Yield every message of a rosbag2 bag in timestamp order.

    ``path`` is a bag directory (with ``metadata.yaml``) or a single ``.mcap``/``.db3`` file.
    ``topics`` restricts reading to those fully qualified names. Definitions embedded in the bag
    win over the Kilted typestore, so bags from other distros deserialize with their own types.
    An MCAP bag that was never closed is read up to its last complete chunk, with a
    ``BagRecoveredWarning``; one with no complete chunk at all raises ``BagError``.
    """
    wanted = None if topics is None else set(topics)
    if not Path(path).exists():
        raise BagError(f"bag {path} does not exist")
    from dodge_lstm.bags.mcap_recovery import read_recovered, unclosed_mcap_files

    unclosed = unclosed_mcap_files(Path(path))
    if unclosed:
        yield from read_recovered(Path(path), unclosed, wanted)
        return
    try:
        reader = AnyReader([Path(path)], default_typestore=typestore())
        reader.open()
    except (AnyReaderError, ReaderError, SerdeError) as exc:
        raise _bag_error(path, exc) from None
    try:
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        if not connections:
            return
        for conn, timestamp, raw in reader.messages(connections=connections):
            yield BagMessage(
                conn.topic, conn.msgtype, timestamp, reader.deserialize(raw, conn.msgtype)
            )
    except (AnyReaderError, ReaderError, SerdeError) as exc:
        raise _bag_error(path, exc) from None
    finally:
        reader.close()


def bag_summary(path: str | Path) -> dict[str, tuple[str, int]]:
    """Map each topic of a bag to ``(msgtype, message count)`` without reading messages
    (an unclosed MCAP bag: what ``read_messages`` would recover)."""
    from dodge_lstm.bags.mcap_recovery import recovered_summary, unclosed_mcap_files

    unclosed = unclosed_mcap_files(Path(path))
    if unclosed:
        return recovered_summary(Path(path), unclosed)
    if not Path(path).exists():
        raise BagError(f"bag {path} does not exist")
    try:
        with AnyReader([Path(path)], default_typestore=typestore()) as reader:
            return {name: (info.msgtype or "", info.msgcount)
                    for name, info in reader.topics.items()}
    except (AnyReaderError, ReaderError, SerdeError) as exc:
        raise _bag_error(path, exc) from None
