"""Bags that were never closed (a recorder killed with SIGKILL): bounded loss, recovered reading.

No DDS here: an arena episode is written through our writer with a fake wall clock (each message
"arrives" at its receive stamp), and the file is read while the writer is still open, which is
exactly what a SIGKILL leaves on disk (the OS keeps what was written; nothing more comes).
The recorder subprocess killed for real is in test/ros/test_faults.py.

The plausible bugs: the writer keeps minutes of data in memory (rosbags' 1 MiB chunk), the
reader refuses the unclosed file or yields a message twice, out of order, half-parsed, or from a
chunk cut in the middle.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

pytest.importorskip("rosbags")

from arena_bags import ODOM, ArenaEpisode, record_arena, write_bare_mcap

from dodge_lstm.bags import rosbag_io as bags
from dodge_lstm.bags.mcap_recovery import unclosed_mcap_files
from dodge_lstm.cli import main as cli_main


class FakeClock:
    """The writer's clock, set to each message's receive stamp before it is written."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(bags._FlushingMcapWriter, "clock", staticmethod(fake))
    return fake


def write_open(ep: ArenaEpisode, path: Path, clock: FakeClock, upto: int | None = None
               ) -> bags.BagWriter:
    """Write the first `upto` messages and leave the bag open (the caller closes it)."""
    writer = bags.open_writer(path)
    for topic, msgtype, data, recv in ep.messages[:upto]:
        writer.add_topic(topic, msgtype)
        clock.now = recv / 1e9
        writer.write(topic, data, recv)
    return writer


def frozen_copy(bag: Path, dest: Path, size: int | None = None) -> Path:
    """The bag directory as a killed recorder leaves it: the .mcap as it is on disk now (or cut
    to `size` bytes), no metadata.yaml."""
    dest.mkdir()
    (mcap,) = bag.glob("*.mcap")
    data = mcap.read_bytes()
    (dest / mcap.name).write_bytes(data if size is None else data[:size])
    assert not (dest / "metadata.yaml").exists()
    return dest


def read_all(path: Path) -> list[bags.BagMessage]:
    with pytest.warns(bags.BagRecoveredWarning, match="was never closed"):
        return list(bags.read_messages(path))


def as_written(ep: ArenaEpisode) -> list[tuple[str, int, bytes]]:
    return [(topic, recv, data) for topic, _, data, recv in ep.messages]


def reserialized(msgs: list[bags.BagMessage]) -> list[tuple[str, int, bytes]]:
    store = bags.typestore()
    return [(m.topic, m.timestamp_ns, bytes(store.serialize_cdr(m.msg, m.msgtype)))
            for m in msgs]


def test_an_open_bag_is_on_disk_but_for_its_last_flush_period(tmp_path, clock):
    ep = record_arena(120)  # 12 s of a game: ~60 messages/s over four topics, 1-3 KB/s
    writer = write_open(ep, tmp_path / "bag", clock)
    try:
        # Read the bag in place, writer still open: what a SIGKILL right now would leave.
        msgs = read_all(tmp_path / "bag")
        assert bags.bag_summary(tmp_path / "bag") == {
            topic: (msgtype, sum(m.topic == topic for m in msgs))
            for topic, msgtype in writer.topics.items() if any(m.topic == topic for m in msgs)}
    finally:
        writer.close()
    written = as_written(ep)
    # Exactly the first k messages, in order, byte for byte (after a CDR round trip).
    assert reserialized(msgs) == written[:len(msgs)]
    last_ns = written[-1][1]
    lost_s = (last_ns - written[len(msgs)][1]) / 1e9
    assert lost_s < bags.FLUSH_PERIOD_S, f"{len(written) - len(msgs)} messages, {lost_s:.2f} s"
    # Closed, the same bag is complete and reads without recovery.
    assert reserialized(list(bags.read_messages(tmp_path / "bag"))) == written


def test_every_cut_of_the_file_reads_as_a_prefix_or_is_refused(tmp_path, clock):
    """Cut the unclosed file at many byte offsets (a kill mid-write): the reader returns the
    first k messages, k growing with the cut, never a half chunk; with no complete chunk it
    refuses, saying the bag was never closed."""
    ep = record_arena(40)
    writer = write_open(ep, tmp_path / "bag", clock)
    try:
        (mcap,) = (tmp_path / "bag").glob("*.mcap")
        size = mcap.stat().st_size
        written = as_written(ep)
        previous, refused, recovered = 0, 0, 0
        for i, cut in enumerate(range(8, size + 1, max(1, size // 97))):
            path = frozen_copy(tmp_path / "bag", tmp_path / f"cut{i}", cut)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    msgs = list(bags.read_messages(path))
            except bags.BagError as exc:
                assert previous == 0 and "never closed" in str(exc)
                assert "no complete chunk" in str(exc)
                refused += 1
            else:
                assert [w.category for w in caught] == [bags.BagRecoveredWarning]
                assert len(msgs) >= max(previous, 1)
                assert reserialized(msgs) == written[:len(msgs)]
                previous = len(msgs)
                recovered += 1
            shutil.rmtree(path)
        assert refused and recovered > 5
    finally:
        writer.close()


def test_a_recovered_bag_becomes_a_dataset(tmp_path, clock, capsys):
    ep = record_arena(100)
    writer = write_open(ep, tmp_path / "bag", clock)
    try:
        bag = frozen_copy(tmp_path / "bag", tmp_path / "killed")
    finally:
        writer.close()
    out = tmp_path / "d.npz"
    with pytest.warns(bags.BagRecoveredWarning):
        assert cli_main(["dataset", "--bag", str(bag), "--out", str(out)]) == 0
    import numpy as np

    with np.load(out) as data:
        rows = len(data["features"])
    odoms = sum(topic == "/odom" for topic, *_ in ep.messages)
    assert odoms - 10 <= rows < odoms  # at most ~half a second (5 ticks) of 10 Hz rows lost


def test_ros2_bag_style_compressed_chunks_recover_with_embedded_schemas(tmp_path):
    """An unclosed file by another writer (the `mcap` library, zstd chunks, schemas and
    channels outside chunks, as `ros2 bag record --compression-format zstd` writes)."""
    from mcap.writer import CompressionType, Writer

    ep = record_arena(60)
    path = tmp_path / "ros2bag.mcap"
    with path.open("wb") as fh:
        writer = Writer(fh, chunk_size=4096, compression=CompressionType.ZSTD)
        writer.start(profile="ros2", library="test")
        channels: dict[str, int] = {}
        for topic, msgtype, data, recv in ep.messages:
            if topic not in channels:
                schema = writer.register_schema(
                    name=msgtype, encoding="ros2msg",
                    data=bags.typestore().generate_msgdef(msgtype)[0].encode())
                channels[topic] = writer.register_channel(topic=topic, message_encoding="cdr",
                                                          schema_id=schema)
            writer.add_message(channel_id=channels[topic], log_time=recv, data=data,
                               publish_time=recv)
        fh.flush()
        unclosed = path.read_bytes()  # never finish(): no summary, no footer
    path.write_bytes(unclosed)
    msgs = read_all(path)
    written = as_written(ep)
    assert len(msgs) > len(written) // 2
    assert reserialized(msgs) == written[:len(msgs)]
    assert {m.msgtype for m in msgs if m.topic == "/odom"} == {ODOM}
    odom = next(m for m in msgs if m.topic == "/odom")
    assert odom.msg.header.frame_id == "odom" and odom.msg.child_frame_id == "base_link"


def test_closed_and_foreign_files_never_take_the_recovery_path(tmp_path):
    ep = record_arena(10)
    bare = write_bare_mcap(ep, tmp_path / "bare.mcap")  # closed, no metadata.yaml: a file
    assert unclosed_mcap_files(bare) == []
    assert len(list(bags.read_messages(bare))) == len(ep.messages)
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(bytes(range(256)) * 8)
    assert unclosed_mcap_files(junk) == []
    with pytest.raises(bags.BagError, match="not a rosbag2 bag"):
        list(bags.read_messages(junk))


def test_the_rosbags_internals_the_writer_relies_on_are_there():
    """rosbags has no chunk-age knob; the writer subclasses its MCAP storage. An upgrade that
    renames these fails here, not as minutes of data lost to the next SIGKILL."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.rosbag2.storage_mcap import McapWriter

    assert callable(McapWriter.close_chunk) and callable(McapWriter.write)
    assert StoragePlugin.MCAP in Writer.STORAGE_PLUGINS
    assert bags._Writer.STORAGE_PLUGINS[StoragePlugin.MCAP] is bags._FlushingMcapWriter
