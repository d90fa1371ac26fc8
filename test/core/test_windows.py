"""Windowing: shapes, labels, episode boundaries."""

import numpy as np
import pytest

from dodge_lstm.core.windows import make_windows, segment_ids


def recording(lengths, f=8):
    t = sum(lengths)
    feats = np.arange(t * f, dtype=np.float32).reshape(t, f)
    cmds = np.arange(t, dtype=np.float32) * 0.01
    ep = np.repeat(np.arange(len(lengths)), lengths)
    return feats, cmds, ep


def test_single_recording_gives_t_minus_n_windows():
    feats, cmds, ep = recording([50])
    w = make_windows(feats, cmds, ep, 5)
    assert w.x.shape == (45, 5, 8) and w.y.shape == (45, 1)
    np.testing.assert_array_equal(w.x[0], feats[0:5])
    np.testing.assert_array_equal(w.x[-1], feats[44:49])
    assert w.y[0, 0] == pytest.approx(cmds[5]) and w.y[-1, 0] == pytest.approx(cmds[49])


def test_windows_never_cross_episodes():
    feats, cmds, ep = recording([10, 3, 20])
    w = make_windows(feats, cmds, ep, 4)
    assert len(w) == (10 - 4) + 0 + (20 - 4)
    rows_ep = ep[(w.x[:, :, 0] // 8).astype(int)]  # episode of every row in every window
    assert np.all(rows_ep == w.episode[:, None])
    label_rows = np.round(w.y[:, 0] / 0.01).astype(int)
    assert np.all(ep[label_rows] == w.episode)


def test_repeated_episode_ids_from_concatenation_do_not_merge():
    feats, cmds, _ = recording([6, 6])
    ep = np.array([0] * 6 + [0] * 0 + [1] * 6)
    ep2 = np.concatenate([np.zeros(6, int), np.ones(3, int), np.zeros(3, int)])
    assert segment_ids(ep2).tolist() == [0] * 6 + [1] * 3 + [2] * 3
    assert len(make_windows(feats, cmds, ep, 2)) == 8
    assert len(make_windows(feats, cmds, ep2, 2)) == 4 + 1 + 1


def test_short_recording_gives_no_windows():
    feats, cmds, ep = recording([5])
    w = make_windows(feats, cmds, ep, 5)
    assert w.x.shape == (0, 5, 8) and w.y.shape == (0, 1)


def test_mismatched_lengths_rejected():
    feats, cmds, ep = recording([10])
    with pytest.raises(ValueError, match="row counts"):
        make_windows(feats, cmds[:-1], ep, 3)
