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

import heapq
import struct
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, ClassVar, NamedTuple, Self

from rosbags.highlevel import AnyReader, AnyReaderError
from rosbags.interfaces import Connection, Qos
from rosbags.rosbag2 import ReaderError, StoragePlugin, Writer
from rosbags.rosbag2.storage_mcap import McapWriter
from rosbags.rosbag2.storage_mcap import decompress as mcap_decompress
from rosbags.serde import SerdeError
from rosbags.typesys import (
    Stores,
    TypesysError,
    get_types_from_idl,
    get_types_from_msg,
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
    unclosed = _unclosed_mcap_files(Path(path))
    if unclosed:
        yield from _read_recovered(Path(path), unclosed, wanted)
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
    unclosed = _unclosed_mcap_files(Path(path))
    if unclosed:
        scans = _scan_all(Path(path), unclosed)
        summary: dict[str, tuple[str, int]] = {}
        for scan in scans:
            for cid, (topic, msgtype, _) in scan.channels.items():
                known = summary.get(topic, (msgtype, 0))
                summary[topic] = (known[0], known[1] + scan.counts.get(cid, 0))
        return summary
    if not Path(path).exists():
        raise BagError(f"bag {path} does not exist")
    try:
        with AnyReader([Path(path)], default_typestore=typestore()) as reader:
            return {name: (info.msgtype or "", info.msgcount)
                    for name, info in reader.topics.items()}
    except (AnyReaderError, ReaderError, SerdeError) as exc:
        raise _bag_error(path, exc) from None


# -- recovering MCAP files that were never closed ------------------------------------------------

MCAP_MAGIC = b"\x89MCAP0\r\n"
_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK, _OP_DATA_END = 0x03, 0x04, 0x05, 0x06, 0x0F
_U16, _U32, _U64 = struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<Q")
_CHUNK_HEAD = struct.Struct("<QQQI")  # message start/end time, uncompressed size, crc
_MESSAGE_HEAD = struct.Struct("<HIQQ")  # channel id, sequence, log time, publish time


def _never_closed(path: Path) -> bool:
    """An MCAP file (it starts with the magic) that does not end with it."""
    with path.open("rb") as fh:
        head = fh.read(len(MCAP_MAGIC))
        if not MCAP_MAGIC.startswith(head):
            return False  # not MCAP at all: let rosbags name the problem
        size = fh.seek(0, 2)
        if size < 2 * len(MCAP_MAGIC):
            return True  # nothing (or not even the magic) made it to the disk
        fh.seek(-len(MCAP_MAGIC), 2)
        return fh.read() != MCAP_MAGIC


def _unclosed_mcap_files(path: Path) -> list[Path]:
    """The MCAP files to recover, or [] when the bag is closed (or not MCAP at all).

    A single ``.mcap`` file without its end magic; a bag directory whose MCAP files are not all
    closed, or that has MCAP files but no ``metadata.yaml`` (rosbag2 writes it on close).
    """
    if path.is_file():
        return [path] if path.suffix == ".mcap" and _never_closed(path) else []
    if not path.is_dir():
        return []
    files = sorted(path.glob("*.mcap"), key=lambda p: (len(p.name), p.name))  # x_2 < x_10
    if any(_never_closed(f) for f in files) or (
            files and not (path / "metadata.yaml").is_file()):
        return files
    return []


class _Reader:
    """Little-endian fields of one MCAP record body."""

    def __init__(self, data: bytes | memoryview) -> None:
        self.data = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        if self.pos + n > len(self.data):
            raise ValueError(f"field runs past the record ({n} bytes at {self.pos})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u16(self) -> int:
        return _U16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def string(self) -> str:
        return bytes(self.take(self.u32())).decode()

    def rest(self) -> memoryview:
        return self.take(len(self.data) - self.pos)


@dataclass
class _ChunkRef:
    """Where a complete chunk is, to decompress it again when its messages are due."""

    start_ns: int
    body_offset: int
    body_length: int


@dataclass
class _McapScan:
    """What a sequential pass over one (unclosed) MCAP file found."""

    path: Path
    schemas: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    """schema id -> (name, encoding, definition)"""
    channels: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    """channel id -> (topic, message type, message encoding)"""
    chunks: list[_ChunkRef] = field(default_factory=list)
    loose: list[tuple[int, int, bytes]] = field(default_factory=list)
    """messages outside chunks: (log time, channel id, CDR bytes)"""
    counts: Counter[int] = field(default_factory=Counter)
    readable: int = 0
    """bytes up to the end of the last complete record"""
    size: int = 0
    stopped: str = ""
    """why the scan ended before the end of the data section ('' if it did not)"""


def _inner_records(data: bytes | memoryview) -> Iterator[tuple[int, _Reader]]:
    """(opcode, body) of each record in a decompressed chunk; ValueError if one is cut."""
    view = memoryview(data)
    pos = 0
    while pos < len(view):
        if pos + 9 > len(view):
            raise ValueError("record header cut inside a chunk")
        op = view[pos]
        length = _U64.unpack(view[pos + 1:pos + 9])[0]
        if pos + 9 + length > len(view):
            raise ValueError("record cut inside a chunk")
        yield op, _Reader(view[pos + 9:pos + 9 + length])
        pos += 9 + length


def _chunk_records(body: bytes) -> tuple[int, bytes]:
    """(message start time, decompressed records) of a chunk record body; ValueError or
    ReaderError if it is corrupt."""
    rec = _Reader(body)
    start_ns, _end_ns, size, crc = _CHUNK_HEAD.unpack(rec.take(_CHUNK_HEAD.size))
    compression = rec.string()
    compressed = bytes(rec.take(rec.u64()))
    return start_ns, mcap_decompress(compressed, compression, size, crc)


def _read_schema_or_channel(scan: _McapScan, op: int, rec: _Reader) -> None:
    if op == _OP_SCHEMA:
        sid = rec.u16()
        scan.schemas[sid] = (rec.string(), rec.string(), bytes(rec.take(rec.u32())).decode())
    elif op == _OP_CHANNEL:
        cid, sid = rec.u16(), rec.u16()
        topic, encoding = rec.string(), rec.string()
        msgtype = scan.schemas[sid][0] if sid in scan.schemas else ""
        scan.channels[cid] = (topic, msgtype, encoding)


def _scan_mcap(path: Path) -> _McapScan:
    """Walk the records of an MCAP file in file order, keeping every complete one; stop at the
    end of the data section or at the first record that is cut off or corrupt."""
    scan = _McapScan(path)
    with path.open("rb") as fh:
        scan.size = fh.seek(0, 2)
        fh.seek(0)
        if fh.read(len(MCAP_MAGIC)) != MCAP_MAGIC:  # a prefix of it (_never_closed)
            scan.stopped = "nothing written"
            return scan
        pos = scan.readable = len(MCAP_MAGIC)
        while True:
            head = fh.read(9)
            if len(head) < 9:
                scan.stopped = "" if not head else f"record header cut at byte {pos}"
                break
            op, length = head[0], _U64.unpack(head[1:])[0]
            if op == 0 or pos + 9 + length > scan.size:
                scan.stopped = f"record cut at byte {pos}" if op else f"zeros at byte {pos}"
                break
            if op == _OP_DATA_END:
                break
            if op in (_OP_SCHEMA, _OP_CHANNEL, _OP_MESSAGE, _OP_CHUNK):
                body = fh.read(length)
                try:
                    _scan_record(scan, op, body, pos + 9)
                except (ValueError, KeyError, ReaderError, struct.error) as exc:
                    scan.stopped = f"corrupt record at byte {pos} ({exc})"
                    break
            else:
                fh.seek(length, 1)
            pos += 9 + length
            scan.readable = pos
    return scan


def _scan_record(scan: _McapScan, op: int, body: bytes, body_offset: int) -> None:
    if op == _OP_CHUNK:
        _, records = _chunk_records(body)
        # Only a complete, valid chunk may add schemas, channels and messages.
        found: Counter[int] = Counter()
        first_ns = None  # the earliest log time (not trusting the chunk header's)
        pending = _McapScan(scan.path, dict(scan.schemas), dict(scan.channels))
        for inner_op, rec in _inner_records(records):
            if inner_op == _OP_MESSAGE:
                cid, _seq, log_ns, _pub_ns = _MESSAGE_HEAD.unpack(rec.take(_MESSAGE_HEAD.size))
                found[cid] += 1
                first_ns = log_ns if first_ns is None else min(first_ns, log_ns)
            else:
                _read_schema_or_channel(pending, inner_op, rec)
        scan.schemas, scan.channels = pending.schemas, pending.channels
        scan.counts.update(found)
        if first_ns is not None:
            scan.chunks.append(_ChunkRef(first_ns, body_offset, len(body)))
    elif op == _OP_MESSAGE:
        rec = _Reader(body)
        cid, _seq, log_ns, _pub_ns = _MESSAGE_HEAD.unpack(rec.take(_MESSAGE_HEAD.size))
        scan.loose.append((log_ns, cid, bytes(rec.rest())))
        scan.counts[cid] += 1
    else:
        _read_schema_or_channel(scan, op, _Reader(body))


def _scan_all(path: Path, files: list[Path]) -> list[_McapScan]:
    scans = [_scan_mcap(f) for f in files]
    if not any(scan.counts for scan in scans):
        reasons = "; ".join(f"{s.path.name}: {s.stopped or 'no messages'}" for s in scans)
        raise BagError(f"bag {path} cannot be read: {NEVER_CLOSED}, and it holds no complete "
                       f"chunk to recover ({reasons})")
    return scans


def _chunk_messages(fh: BinaryIO, ref: _ChunkRef, order: int, wanted: set[int]
                    ) -> Iterator[tuple[int, int, int, bytes]]:
    """(log time, order key, channel id, data) of one chunk's wanted messages in time order;
    first a marker at the chunk's start time, so a merge decompresses chunks only when due."""
    yield ref.start_ns, order - 1, -1, b""
    fh.seek(ref.body_offset)
    _, records = _chunk_records(fh.read(ref.body_length))
    msgs = []
    for inner_op, rec in _inner_records(records):
        if inner_op == _OP_MESSAGE:
            cid, _seq, log_ns, _pub_ns = _MESSAGE_HEAD.unpack(rec.take(_MESSAGE_HEAD.size))
            if cid in wanted:
                msgs.append((log_ns, order + len(msgs), cid, bytes(rec.rest())))
    msgs.sort()
    yield from msgs


def _types_of(scans: list[_McapScan]) -> Typestore | None:
    """A typestore of the definitions embedded in the files (None if there are none)."""
    types: dict[str, Any] = {}
    for scan in scans:
        for name, encoding, definition in scan.schemas.values():
            if not definition:
                continue
            try:
                if encoding == "ros2msg":
                    types.update(get_types_from_msg(definition, name))
                elif encoding == "ros2idl":
                    sep = "=" * 80 + "\n"
                    parts = definition.split(sep)[1:] if definition.startswith(f"{sep}IDL: ") \
                        else [f"IDL: \n{definition}"]
                    for part in parts:
                        types.update(get_types_from_idl(part.split("\n", 1)[1]))
            except (TypesysError, ValueError, IndexError):
                continue  # an unparsable definition: the Kilted typestore's, if it has one
    if not types:
        return None
    store = get_typestore(Stores.EMPTY)
    store.register(types)
    return store


def _read_recovered(path: Path, files: list[Path], wanted: set[str] | None
                    ) -> Iterator[BagMessage]:
    """The messages of unclosed MCAP files, in timestamp order, up to each file's last complete
    chunk (``BagRecoveredWarning`` says how much was read)."""
    scans = _scan_all(path, files)
    total = sum(sum(s.counts.values()) for s in scans)
    dropped = sum(s.size - s.readable for s in scans)
    warnings.warn(
        f"bag {path} was never closed: recovered {total} messages up to the last complete "
        f"chunk ({dropped} bytes after it dropped)", BagRecoveredWarning, stacklevel=3)
    embedded = _types_of(scans)
    fallback = typestore()
    handles = [s.path.open("rb") for s in scans]
    try:
        sources: list[Iterator[tuple[int, int, int, bytes]]] = []
        channels: dict[tuple[int, int], tuple[str, str]] = {}
        for f, (scan, fh) in enumerate(zip(scans, handles, strict=True)):
            ids = {cid for cid, (topic, _, encoding) in scan.channels.items()
                   if (wanted is None or topic in wanted) and encoding == "cdr"}
            channels.update({(f, cid): scan.channels[cid][:2] for cid in ids})
            base = (f + 1) << 48  # order keys: file, then chunk, then position in the file
            sources += [_tag(_chunk_messages(fh, ref, base + ((i + 1) << 24), ids), f)
                        for i, ref in enumerate(scan.chunks)]
            loose = sorted((t, base + k, cid, data)
                           for k, (t, cid, data) in enumerate(scan.loose) if cid in ids)
            sources.append(_tag(iter(loose), f))
        for log_ns, _order, cid, data, f in heapq.merge(*sources):
            if cid < 0:
                continue
            topic, msgtype = channels[(f, cid)]
            store = embedded if embedded is not None and msgtype in embedded.fielddefs \
                else fallback
            try:
                msg = store.deserialize_cdr(data, msgtype)
            except (SerdeError, KeyError, ValueError, struct.error) as exc:
                raise BagError(f"bag {path}: a recovered {msgtype} message on {topic} cannot "
                               f"be deserialized ({type(exc).__name__}: {exc})") from None
            yield BagMessage(topic, msgtype, log_ns, msg)
    finally:
        for fh in handles:
            fh.close()


def _tag(source: Iterator[tuple[int, int, int, bytes]], f: int
         ) -> Iterator[tuple[int, int, int, bytes, int]]:
    for log_ns, order, cid, data in source:
        yield log_ns, order, cid, data, f
