"""Recorded bags -> the same raw recording format as the arena path.

Features are recomputed from recorded `balls/odom` + `odom` with the very row builder the
`ball_features` node runs (`core.feature_rows.FeatureRowBuilder`, over the core feature code),
replayed by `bag_replay` (stamp order; labels = the command in force by receive time). One bag
is one episode. MCAP and sqlite3 storage both work.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from dodge_lstm.bags.bag_replay import BALL, OUTCOME, replay_bag
from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.dataset import Recording, base_meta
from dodge_lstm.core.feature_rows import FeatureRowBuilder


def recording_from_bag(path: Path | str, namespace: str = "", num_slots: int = 2,
                       rate_hz: float = 10.0, ball_timeout: float = 0.25,
                       episode: int = 0) -> Recording:
    """One bag as one episode of rows (raises ValueError if it has no robot odometry)."""
    replay = replay_bag(path, namespace)
    builder = FeatureRowBuilder(num_slots, rate_hz, ball_timeout)
    rows: list[np.ndarray] = []
    row_recv: list[int] = []
    for event in replay.events:
        if event.kind == OUTCOME:
            builder.on_outcome(event.payload["ball"])
        elif event.kind == BALL:
            builder.on_ball(event.payload)
        else:
            row = builder.on_odom(event.payload)
            if row is not None:
                rows.append(row)
                row_recv.append(event.recv_ns)
    if not rows:
        raise ValueError(f"bag {path}: no usable robot odometry on {replay.topics['odom']}")
    meta = base_meta("bag", num_slots, ArenaConfig(control_rate_hz=rate_hz), bags=[str(path)],
                     rejected_messages=replay.rejected + builder.rejected
                     + builder.tracker.rejected)
    return Recording(features=np.stack(rows).astype(np.float32),
                     commands=replay.commands_in_force(np.asarray(row_recv)),
                     episode=np.full(len(rows), episode, dtype=np.int64), meta=meta)


def recording_from_bags(paths: Iterable[Path | str], **kwargs: Any) -> Recording:
    """Several bags, one episode each."""
    recs = [recording_from_bag(p, episode=i, **kwargs) for i, p in enumerate(paths)]
    if not recs:
        raise ValueError("no bags given")
    merged = Recording.concat(recs)
    merged.meta = recs[0].meta | {"bags": [b for r in recs for b in r.meta["bags"]]}
    return merged
