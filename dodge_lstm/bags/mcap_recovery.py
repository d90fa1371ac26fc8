"""Reading MCAP bags that were never closed: a recorder killed by SIGKILL or a power cut.

rosbags refuses such a file (no footer, no summary). Its records are still there, in order, up
to the last chunk the writer flushed (`rosbag_io.FLUSH_PERIOD_S`): this scans them, keeps every
complete chunk, and yields the messages in timestamp order with a `BagRecoveredWarning` saying
how much was dropped. It uses rosbags' own decompression and the bag's embedded schemas (the
Kilted typestore where a schema is missing); no `mcap` package needed.
"""

from __future__ import annotations

import heapq
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from rosbags.rosbag2 import ReaderError
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

from dodge_lstm.bags.rosbag_io import (
    NEVER_CLOSED,
    BagError,
    BagMessage,
    BagRecoveredWarning,
    typestore,
)

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


def unclosed_mcap_files(path: Path) -> list[Path]:
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


def scan_all(path: Path, files: list[Path]) -> list[_McapScan]:
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


def read_recovered(path: Path, files: list[Path], wanted: set[str] | None
                    ) -> Iterator[BagMessage]:
    """The messages of unclosed MCAP files, in timestamp order, up to each file's last complete
    chunk (``BagRecoveredWarning`` says how much was read)."""
    scans = scan_all(path, files)
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


def recovered_summary(path: Path, files: list[Path]) -> dict[str, tuple[str, int]]:
    """`bag_summary` of unclosed MCAP files: what `read_recovered` would yield, per topic."""
    summary: dict[str, tuple[str, int]] = {}
    for scan in scan_all(path, files):
        for cid, (topic, msgtype, _) in scan.channels.items():
            known = summary.get(topic, (msgtype, 0))
            summary[topic] = (known[0], known[1] + scan.counts.get(cid, 0))
    return summary
