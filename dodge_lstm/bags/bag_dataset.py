"""Recorded bags -> the same raw recording format as the arena path.

Features are recomputed from recorded `balls/odom` + `odom` with the very row builder the
`ball_features` node runs (`core.feature_rows.FeatureRowBuilder`, over the core feature code).
State messages are replayed in header-stamp order (balls before the robot at equal stamps,
outcomes first), since separate topics reach a recorder in no guaranteed order. Labels come from
`cmd_vel`, which has no header: a row's command is the latest `cmd_vel` *received* at or before
its `odom` was received, i.e. the command in force (docs/DESIGN.md). That needs receive times on
one monotonic clock: our recorder's default, and `ros2 bag record`'s without `--use-sim-time`.
One bag is one episode. MCAP and sqlite3 storage both work.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.bags.rosbag_io import read_messages
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.dataset import Recording, base_meta
from dodge_lstm.core.feature_rows import FeatureRowBuilder
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.core.outcomes import decode_outcome

_OUTCOME, _BALL, _ROBOT = 0, 1, 2  # replay order of events with equal stamps


def _topic(namespace: str, name: str) -> str:
    """Fully qualified name, as bags store them: `robot1` and `/robot1/` both give `/robot1/x`."""
    ns = namespace.strip("/")
    return f"/{ns}/{name}" if ns else f"/{name}"


def recording_from_bag(path: Path | str, namespace: str = "", num_slots: int = 2,
                       rate_hz: float = 10.0, ball_timeout: float = 0.25,
                       episode: int = 0) -> Recording:
    """One bag as one episode of rows (raises ValueError if it has no robot odometry)."""
    topics = {k: _topic(namespace, k) for k in ("odom", "balls/odom", "balls/outcome", "cmd_vel")}
    events: list[tuple[int, int, int, Any, int]] = []  # (stamp, kind, seq, payload, recv_ns)
    cmd_recv: list[int] = []
    cmd_vals: list[float] = []
    rejected = 0
    for seq, (topic, _type, recv_ns, msg) in enumerate(
            read_messages(path, topics=topics.values())):
        if topic == topics["cmd_vel"]:
            if math.isfinite(msg.linear.x):
                cmd_recv.append(recv_ns)
                cmd_vals.append(float(msg.linear.x))
            else:
                rejected += 1
        elif topic == topics["balls/outcome"]:
            try:
                out = decode_outcome(msg.data)
                events.append((round(float(out["t"]) * 1e9), _OUTCOME, seq, out["ball"], recv_ns))
            except (ValueError, KeyError, TypeError):
                rejected += 1
        else:
            kind = _BALL if topic == topics["balls/odom"] else _ROBOT
            events.append((stamp_ns(msg), kind, seq, msg, recv_ns))
    events.sort(key=lambda e: e[:3])

    builder = FeatureRowBuilder(num_slots, rate_hz, ball_timeout)
    rows: list[np.ndarray] = []
    row_recv: list[int] = []
    for _stamp_ns, kind, _seq, payload, recv_ns in events:
        if kind == _OUTCOME:
            builder.on_outcome(payload)
        elif kind == _BALL:
            builder.on_ball(payload)
        else:
            row = builder.on_odom(payload)
            if row is not None:
                rows.append(row)
                row_recv.append(recv_ns)
    if not rows:
        raise ValueError(f"bag {path} has no messages on {topics['odom']}; was the simulator "
                         f"recorded (topics {sorted(topics.values())})?")
    order = np.argsort(np.asarray(cmd_recv, dtype=np.int64), kind="stable")
    recv = np.asarray(cmd_recv, dtype=np.int64)[order]
    vals = np.asarray(cmd_vals, dtype=np.float32)[order]
    idx = np.searchsorted(recv, np.asarray(row_recv, dtype=np.int64), side="right") - 1
    commands = np.where(idx >= 0, vals[np.maximum(idx, 0)] if vals.size else 0.0, 0.0)
    meta = base_meta("bag", num_slots, ArenaConfig(control_rate_hz=rate_hz), bags=[str(path)],
                     rejected_messages=rejected + builder.rejected + builder.tracker.rejected)
    return Recording(features=np.stack(rows).astype(np.float32),
                     commands=commands.astype(np.float32),
                     episode=np.full(len(rows), episode, dtype=np.int64), meta=meta)


def recording_from_bags(paths: Iterable[Path | str], **kwargs: Any) -> Recording:
    """Several bags, one episode each."""
    recs = [recording_from_bag(p, episode=i, **kwargs) for i, p in enumerate(paths)]
    if not recs:
        raise ValueError("no bags given")
    merged = Recording.concat(recs)
    merged.meta = recs[0].meta | {"bags": [b for r in recs for b in r.meta["bags"]]}
    return merged
