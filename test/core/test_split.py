"""The train/eval split: whole segments, twins together, no window across the border."""

from __future__ import annotations

import numpy as np
import pytest

from dodge_lstm.core.dataset import Recording, record_expert
from dodge_lstm.core.split import holdout_groups, split_groups, split_windows
from dodge_lstm.core.windows import make_windows


def test_holdout_groups_keeps_groups_whole_and_is_seeded() -> None:
    ids = np.random.default_rng(0).integers(0, 40, size=5000)
    eval_mask = holdout_groups(ids, 0.25, seed=7)
    assert set(ids[eval_mask]).isdisjoint(set(ids[~eval_mask]))
    assert len(set(ids[eval_mask])) == 10
    assert np.array_equal(holdout_groups(ids, 0.25, seed=7), eval_mask)
    assert not np.array_equal(holdout_groups(ids, 0.25, seed=8), eval_mask)


def test_holdout_groups_edge_cases() -> None:
    ids = np.array([0, 0, 1, 1, 1])
    assert 0 < holdout_groups(ids, 0.01, seed=0).sum() < 5  # rounds to 0 -> at least 1
    assert 0 < holdout_groups(ids, 0.99, seed=0).sum() < 5  # keeps one for training
    assert not holdout_groups(ids, 0.0, seed=0).any()
    with pytest.raises(ValueError, match="--segment-seconds"):
        holdout_groups(np.zeros(10, int), 0.2, seed=0)
    with pytest.raises(ValueError, match="eval_fraction"):
        holdout_groups(ids, 1.0, seed=0)


def test_segments_cut_long_episodes_and_restart_per_episode() -> None:
    episode = np.repeat([5, 9], [7, 4])
    groups = split_groups(episode, episode, segment_rows=3)
    # Episode 5: rows 0-2, 3-5, 6; episode 9: rows 0-2, 3.
    assert groups.tolist() == [0, 0, 0, 1, 1, 1, 2, 3, 3, 3, 4]
    assert split_groups(episode, episode, segment_rows=0).tolist() == [0] * 7 + [1] * 4


def test_mirror_twins_land_on_the_same_side() -> None:
    """The bug: 14 of 16 eval episodes had their mirror twin in training."""
    rec = record_expert(16, seed=1, episode_s=6.0).mirrored()
    w = make_windows(rec.features, rec.commands, rec.episode, 5)
    for seed in range(5):
        split = split_windows(rec.episode, rec.origin, w.start, 5, eval_fraction=0.25,
                              segment_rows=30, seed=seed)
        eval_origins = set(rec.origin[split.eval_rows].tolist())
        train_origins = set(rec.origin[~split.eval_rows].tolist())
        eval_eps = set(rec.episode[split.eval_rows].tolist())
        # Every held-out row's twin is held out too: twins are both episodes of an origin.
        for origin in eval_origins:
            assert set(rec.episode[rec.origin == origin].tolist()) <= eval_eps
        # Segmenting by 30 rows splits episodes, but a segment's twin segment follows it.
        for e in eval_eps:
            twin = e + 16 if e < 16 else e - 16
            rows, twin_rows = rec.episode == e, rec.episode == twin
            assert np.array_equal(split.eval_rows[rows], split.eval_rows[twin_rows])
        assert eval_origins and train_origins


def test_per_episode_split_without_origin_would_leak_twins() -> None:
    """The mutant: the old per-episode split (origin ignored) puts twins on both sides."""
    rec = record_expert(16, seed=1, episode_s=6.0).mirrored()
    eval_rows = holdout_groups(rec.episode, 0.25, seed=0)
    eval_eps = set(rec.episode[eval_rows].tolist())
    leaked = sum((e + 16 if e < 16 else e - 16) not in eval_eps for e in eval_eps)
    assert leaked > 0


def test_no_window_crosses_the_train_eval_border() -> None:
    rec = record_expert(1, seed=2, episode_s=60.0)
    w = make_windows(rec.features, rec.commands, rec.episode, 8)
    split = split_windows(rec.episode, rec.origin, w.start, 8, eval_fraction=0.5,
                          segment_rows=100, seed=0)
    for side, mask in ((True, split.eval_windows), (False, split.train_windows)):
        for start in w.start[mask]:
            assert (split.eval_rows[start:start + 9] == side).all()
    dropped = len(w) - split.eval_windows.sum() - split.train_windows.sum()
    borders = np.count_nonzero(np.diff(split.eval_rows.astype(int)))
    assert dropped == 8 * borders  # exactly the windows that straddle a border


def test_concat_renumbers_origin_with_episodes() -> None:
    a = record_expert(2, seed=1, episode_s=2.0).mirrored()
    b = record_expert(3, seed=2, episode_s=2.0).mirrored()
    both = Recording.concat([a, b])
    assert len(np.unique(both.episode)) == 10 and len(np.unique(both.origin)) == 5
    for o in np.unique(both.origin):
        eps = np.unique(both.episode[both.origin == o])
        assert len(eps) == 2  # an original and its twin, never across recordings
        x0 = both.features[both.episode == eps[0]]
        x1 = both.features[both.episode == eps[1]]
        assert x0.shape == x1.shape and not np.array_equal(x0, x1)


def test_normalization_of_selected_rows() -> None:
    rec = record_expert(2, seed=1, episode_s=5.0)
    rows = rec.episode == 0
    mean, _ = rec.normalization(rows)
    np.testing.assert_allclose(mean, rec.features[rows].mean(axis=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no rows"):
        rec.normalization(np.zeros(len(rec.episode), bool))
