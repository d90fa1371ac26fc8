"""The train/eval split: whole segments of episodes, mirror twins always on the same side.

Neighbouring windows overlap and are near-duplicates, so windows are never split one by one.
Long episodes (one bag, one long arena run) are cut into segments of `segment_rows` rows so that
even a single recording can hold some out; a segment and its fore/aft mirror image (the same
rows reflected, `Recording.origin`) form one group, because a twin in training would leak its
eval twin. Windows that straddle a train/eval border are dropped. TensorFlow-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dodge_lstm.core.windows import segment_ids


def split_groups(episode: np.ndarray, origin: np.ndarray, segment_rows: int) -> np.ndarray:
    """Per-row group ids: (origin episode, segment index within the episode's run of rows).

    `segment_rows` 0 keeps whole episodes. A mirrored copy has the same length as its original,
    so its segment k joins the original's segment k.
    """
    episode, origin = np.asarray(episode), np.asarray(origin)
    if episode.shape != origin.shape or episode.ndim != 1:
        raise ValueError(f"episode and origin must be matching 1-D arrays, got "
                         f"{episode.shape} and {origin.shape}")
    if segment_rows < 0:
        raise ValueError(f"segment_rows must be >= 0, got {segment_rows}")
    if episode.size == 0:
        return np.zeros(0, dtype=np.int64)
    run = segment_ids(episode)
    run_start = np.flatnonzero(np.r_[True, run[1:] != run[:-1]])
    position = np.arange(episode.size) - run_start[run]
    piece = position // segment_rows if segment_rows > 0 else np.zeros_like(position)
    _, groups = np.unique(np.stack([origin, piece]), axis=1, return_inverse=True)
    return groups.reshape(-1).astype(np.int64)


def holdout_groups(groups: np.ndarray, eval_fraction: float, seed: int) -> np.ndarray:
    """Boolean eval mask over `groups` (any per-item group ids): `round(eval_fraction * G)`
    whole groups, at least one and leaving at least one, chosen by a seeded permutation."""
    ids = np.asarray(groups)
    if ids.ndim != 1:
        raise ValueError(f"group ids must be 1-D, got shape {ids.shape}")
    if not 0.0 <= eval_fraction < 1.0:
        raise ValueError(f"eval_fraction must be in [0, 1), got {eval_fraction}")
    if eval_fraction == 0.0:
        return np.zeros(ids.shape, bool)
    unique = np.unique(ids)
    if len(unique) < 2:
        raise ValueError(
            f"need at least 2 segments to hold some out for evaluation, got {len(unique)}: "
            f"record more, use a shorter --segment-seconds, or --eval-fraction 0")
    n_eval = min(max(1, round(eval_fraction * len(unique))), len(unique) - 1)
    chosen = np.random.default_rng(seed).permutation(unique)[:n_eval]
    return np.isin(ids, chosen)


@dataclass(frozen=True)
class Split:
    """Which rows and windows train and which evaluate."""

    eval_rows: np.ndarray
    """`[T]` bool: rows of held-out groups."""
    train_windows: np.ndarray
    """`[W]` bool over windows whose rows and label are all training rows."""
    eval_windows: np.ndarray
    """`[W]` bool over windows whose rows and label are all held-out rows."""
    groups: int
    """Groups (twin-paired segments) in the recording."""


def split_windows(episode: np.ndarray, origin: np.ndarray, window_start: np.ndarray,
                  timesteps: int, *, eval_fraction: float, segment_rows: int,
                  seed: int) -> Split:
    """The split of a recording's rows and of its windows (`Windows.start`)."""
    groups = split_groups(episode, origin, segment_rows)
    eval_rows = holdout_groups(groups, eval_fraction, seed)
    start = np.asarray(window_start, dtype=np.int64)
    # Groups are contiguous runs of rows, so a window is on one side iff its ends are.
    first, label = eval_rows[start], eval_rows[start + timesteps]
    same = first == label
    return Split(eval_rows=eval_rows, train_windows=same & ~label, eval_windows=same & label,
                 groups=int(groups.max()) + 1 if groups.size else 0)
