"""Recorded bags -> the same raw recording format as the arena path.

Features are recomputed from recorded `balls/odom` + `odom` with the very row builder the
`ball_features` node runs (`core.feature_rows.FeatureRowBuilder`, over the core feature code),
replayed by `bag_replay` (stamp order; labels = the command in force by receive time). One bag
is one episode. MCAP and sqlite3 storage both work.

`label_topic` takes the labels from another command topic: a shadow expert's `expert/cmd_vel`
(DAgger through ROS: the learner drives, the expert labels) pairs with rows exactly by stamp,
since it stamps each answer with the odom it answers; a row whose previous row got no answer
keeps the previous label and is counted in `meta["missing_labels"]`.

`detections` (a tracker name) builds the rows from a recorded `balls/detections` instead, with
the row builder the node runs when the graph senses (`core.detection_rows`): robot odometry and
reports in the order they were received (a report is fused at the newest robot tick, as the node
does; its stamp is its capture time), so a model trained on it meets the same rows in the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.bags.bag_replay import (
    BALL,
    DETECTIONS,
    DRIVER_COMMANDS,
    OUTCOME,
    ROBOT,
    BagReplay,
    replay_bag,
)
from dodge_lstm.bags.rosbag_io import bag_summary
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.dataset import Recording, base_meta
from dodge_lstm.core.detection_rows import DetectionRowBuilder
from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.core.tracking import TRACKERS


def recording_from_bag(path: Path | str, namespace: str = "", num_slots: int = 2,
                       rate_hz: float = 10.0, ball_timeout: float = 0.25,
                       episode: int = 0, label_topic: str = DRIVER_COMMANDS,
                       detections: str | None = None) -> Recording:
    """One bag as one episode of rows, labelled from `label_topic` (relative to `namespace`).
    Raises ValueError if it has no robot odometry or no message on the label topic (a
    dataset of zero labels would train a robot to stand still)."""
    replay = replay_bag(path, namespace, command_topic=label_topic)
    if not replay.cmd_messages:
        have = ", ".join(sorted(bag_summary(path))) or "none"
        raise ValueError(f"bag {path} has no messages on the label topic "
                         f"{replay.topics['cmd_vel']} (its topics: {have})")
    if detections is not None:
        rows, row_recv, row_stamps, rejected = _detection_rows(replay, detections, num_slots,
                                                               rate_hz)
        return _recording(path, replay, rows, row_recv, row_stamps, rejected, num_slots,
                          rate_hz, episode, sensing="detections", tracker=detections)
    builder = FeatureRowBuilder(num_slots, rate_hz, ball_timeout)
    rows: list[np.ndarray] = []
    row_recv: list[int] = []
    row_stamps: list[int] = []
    for event in replay.events:
        if event.kind == OUTCOME:
            builder.on_outcome(event.payload["ball"])
        elif event.kind == BALL:
            builder.on_ball(event.payload)
        elif event.kind == ROBOT:
            row = builder.on_odom(event.payload)
            if row is not None:
                rows.append(row)
                row_recv.append(event.recv_ns)
                row_stamps.append(event.stamp_ns)
    return _recording(path, replay, rows, row_recv, row_stamps,
                      builder.rejected + builder.tracker.rejected, num_slots, rate_hz, episode)


def _detection_rows(replay: BagReplay, tracker: str, num_slots: int, rate_hz: float
                    ) -> tuple[list[np.ndarray], list[int], list[int], int]:
    """Rows from odometry and detector reports in receive order (one row per fused tick)."""
    if tracker not in TRACKERS:
        raise ValueError(f"tracker must be one of {', '.join(TRACKERS)}, got {tracker!r}")
    received = sorted((e for e in replay.events if e.kind in (ROBOT, DETECTIONS)),
                      key=lambda e: (e.recv_ns, e.seq))
    if not any(e.kind == DETECTIONS for e in received):
        raise ValueError(f"bag {replay.path} has no messages on "
                         f"{replay.topics['balls/detections']}: was it recorded with sensing "
                         f"(sim --sensing realistic --record)?")
    builder = DetectionRowBuilder(num_slots, rate_hz, TRACKERS[tracker])
    rows: list[np.ndarray] = []
    row_recv: list[int] = []
    row_stamps: list[int] = []
    odom_at: dict[int, tuple[int, int]] = {}  # tick -> (odom stamp, odom receive time)
    for event in received:
        if event.kind == ROBOT:
            if builder.on_odom(event.payload):
                odom_at[builder.tick_of(event.stamp_ns)] = (event.stamp_ns, event.recv_ns)
            continue
        fused = builder.fused_tick
        row = builder.on_detections(event.payload)
        if row is not None and builder.fused_tick != fused:
            stamp, recv = odom_at[builder.fused_tick]
            rows.append(row)
            row_stamps.append(stamp)
            row_recv.append(recv)
    return rows, row_recv, row_stamps, builder.rejected


def _recording(path: Path | str, replay: BagReplay, rows: list[np.ndarray],
               row_recv: list[int], row_stamps: list[int], rejected: int, num_slots: int,
               rate_hz: float, episode: int, **extra: Any) -> Recording:
    """Rows and their labels (by stamp or by receive time) as one episode."""
    if not rows:
        raise ValueError(f"bag {path}: no usable robot odometry on {replay.topics['odom']}")
    if replay.cmd_stamp_ns is not None:
        commands, missing = replay.commands_answering(np.asarray(row_stamps))
        pairing = "stamp"
    else:
        commands, missing = replay.commands_in_force(np.asarray(row_recv)), 0
        pairing = "receive_time"
    meta = base_meta("bag", num_slots, ArenaConfig(control_rate_hz=rate_hz), bags=[str(path)],
                     rejected_messages=replay.rejected + rejected,
                     label_topic=replay.topics["cmd_vel"], label_pairing=pairing,
                     missing_labels=missing, **extra)
    return Recording(features=np.stack(rows).astype(np.float32), commands=commands,
                     episode=np.full(len(rows), episode, dtype=np.int64), meta=meta)


def recording_from_bags(paths: Iterable[Path | str], **kwargs: Any) -> Recording:
    """Several bags, one episode each."""
    recs = [recording_from_bag(p, episode=i, **kwargs) for i, p in enumerate(paths)]
    if not recs:
        raise ValueError("no bags given")
    merged = Recording.concat(recs)
    merged.meta = recs[0].meta | {
        "bags": [b for r in recs for b in r.meta["bags"]],
        "rejected_messages": sum(r.meta["rejected_messages"] for r in recs),
        "missing_labels": sum(r.meta["missing_labels"] for r in recs)}
    return merged
