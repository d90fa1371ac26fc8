"""Cut recordings into `[windows, N, F]` LSTM inputs and `[windows, 1]` labels.

Window i is `features[i : i+N]` and its label `commands[i+N]`: row t holds the command *in
force* at tick t, i.e. the one issued after seeing row t-1 (see docs/DESIGN.md). A recording of
T rows therefore gives T-N windows, and no window (label row included) spans two episodes. The
work is a strided view plus one boolean gather: no Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


@dataclass(frozen=True)
class Windows:
    """Windowed recording: inputs, labels and the episode each window came from."""

    x: np.ndarray
    """Inputs `[W, N, F]` float32."""
    y: np.ndarray
    """Labels `[W, 1]` float32."""
    episode: np.ndarray
    """Episode id of each window `[W]`."""
    start: np.ndarray
    """Row index of each window's first row `[W]`; its label is row `start + N`."""

    def __len__(self) -> int:
        return int(self.x.shape[0])


def segment_ids(episode: np.ndarray) -> np.ndarray:
    """Run-length ids: a new id wherever the episode id changes between neighbouring rows.

    Recordings concatenated with repeating episode ids still never share a window.
    """
    episode = np.asarray(episode)
    seg = np.zeros(episode.shape[0], dtype=np.int64)
    if episode.shape[0] > 1:
        np.cumsum(episode[1:] != episode[:-1], out=seg[1:])
    return seg


def valid_window_starts(episode: np.ndarray, timesteps: int) -> np.ndarray:
    """Start rows i whose window and label row `i .. i+N` lie in one episode."""
    seg = segment_ids(episode)
    if seg.shape[0] <= timesteps:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(seg[:-timesteps] == seg[timesteps:])


def make_windows(features: np.ndarray, commands: np.ndarray, episode: np.ndarray,
                 timesteps: int) -> Windows:
    """Windows of `timesteps` rows with next-command labels; see the module docstring."""
    features = np.asarray(features, dtype=np.float32)
    commands = np.asarray(commands, dtype=np.float32).reshape(-1)
    episode = np.asarray(episode)
    if timesteps < 1:
        raise ValueError(f"timesteps must be >= 1, got {timesteps}")
    if not features.shape[0] == commands.shape[0] == episode.shape[0]:
        raise ValueError(f"row counts differ: features {features.shape[0]}, commands "
                         f"{commands.shape[0]}, episode {episode.shape[0]}")
    starts = valid_window_starts(episode, timesteps)
    if starts.size == 0:
        f = features.shape[1]
        return Windows(np.zeros((0, timesteps, f), np.float32), np.zeros((0, 1), np.float32),
                       episode[:0], starts)
    view = sliding_window_view(features, timesteps, axis=0)  # [T-N+1, F, N], no copy
    x = np.ascontiguousarray(view[starts].transpose(0, 2, 1))
    y = commands[starts + timesteps][:, None]
    return Windows(x=x, y=y, episode=episode[starts], start=starts)
