"""Expert recordings: row semantics, save/load, mirror, windows from a real recording."""

import numpy as np
import pytest

from dodge_lstm.core.dataset import Recording, record_expert
from dodge_lstm.core.features import placeholder_row
from dodge_lstm.core.windows import make_windows


@pytest.fixture(scope="module")
def rec():
    return record_expert(6, seed=4, episode_s=8.0, batch=4)


def test_shapes_and_episodes(rec):
    assert rec.features.shape == (6 * 80, 8) and rec.commands.shape == (480,)
    assert np.array_equal(np.unique(rec.episode), np.arange(6))
    assert rec.features.dtype == np.float32


def test_episodes_start_empty_with_no_command(rec):
    starts = np.flatnonzero(np.r_[True, rec.episode[1:] != rec.episode[:-1]])
    np.testing.assert_array_equal(rec.features[starts], np.tile(placeholder_row(), (6, 1)))
    np.testing.assert_array_equal(rec.commands[starts], 0.0)
    assert np.abs(rec.commands).max() <= 1.0 and np.abs(rec.commands).max() > 0.5


def test_same_seed_same_data():
    a = record_expert(2, seed=9, episode_s=3.0)
    b = record_expert(2, seed=9, episode_s=3.0)
    assert np.array_equal(a.features, b.features) and np.array_equal(a.commands, b.commands)


def test_save_load_roundtrip_with_normalization(rec, tmp_path):
    path = rec.save(tmp_path / "d.npz")
    back = Recording.load(path)
    np.testing.assert_array_equal(back.features, rec.features)
    assert back.meta["feature_names"][0] == "b0_x" and back.meta["num_slots"] == 2
    with np.load(path) as data:
        mean, std = data["feature_mean"], data["feature_std"]
    np.testing.assert_allclose(mean, rec.features.mean(0), rtol=1e-5, atol=1e-6)
    assert np.all(std >= 1e-3)


def test_load_rejects_other_npz(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match="missing"):
        Recording.load(tmp_path / "x.npz")


def test_mirror_doubles_and_negates(rec):
    m = rec.mirrored()
    n = rec.features.shape[0]
    assert m.features.shape[0] == 2 * n and m.meta["mirrored"]
    np.testing.assert_array_equal(m.commands[n:], -rec.commands)
    assert len(np.intersect1d(m.episode[:n], m.episode[n:])) == 0


def test_windows_from_recording(rec):
    w = make_windows(rec.features, rec.commands, rec.episode, 5)
    assert w.x.shape == (6 * (80 - 5), 5, 8)


def test_rows_and_windows_pair_each_window_with_the_expert_answer_to_its_last_row():
    """The row/label contract end to end, against an independent replay of the same arenas.

    Row t holds the command in force at t: the expert's answer to row t-1. So the label of the
    window ending at row t is the expert's answer to row t. A recorder that labels each row with
    the answer to that same row (a one-tick leak of the future into the input), or with the
    answer to row t-2 (one tick late), fails here: consecutive answers differ on most ticks.
    """
    from dodge_lstm.core.arena import Arena
    from dodge_lstm.core.expert import ExpertPolicy
    from dodge_lstm.core.features import ball_features

    episodes, ticks, n = 4, 60, 5
    rec = record_expert(episodes, seed=21, episode_s=ticks / 10, batch=episodes)
    chunk_seed = int(np.random.SeedSequence(21).spawn(1)[0].generate_state(1)[0])
    arena, expert = Arena(episodes, seed=chunk_seed), ExpertPolicy()
    rows, answers = [], []
    for _ in range(ticks):
        r, _ = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                             arena.ball_vel, arena.alive, arena.ball_id)
        rows.append(r)
        answers.append(expert.act(arena))
        arena.step(answers[-1])
    rows = np.stack(rows, axis=1).reshape(-1, 8)  # [episode * tick, F], episode-major
    answers = np.stack(answers, axis=1).astype(np.float32)  # [episode, tick]
    np.testing.assert_array_equal(rec.features, rows)
    in_force = np.concatenate([np.zeros((episodes, 1), np.float32), answers[:, :-1]], axis=1)
    np.testing.assert_array_equal(rec.commands, in_force.reshape(-1))
    assert np.sum(answers[:, 1:] != answers[:, :-1]) > 20  # a one-tick shift would show

    w = make_windows(rec.features, rec.commands, rec.episode, n)
    last_row = np.arange(n - 1, ticks - 1)  # the window's last row, per episode
    np.testing.assert_array_equal(w.y[:, 0], answers[:, last_row].reshape(-1))
    np.testing.assert_array_equal(w.x[:, -1], rows.reshape(episodes, ticks, 8)[:, last_row]
                                  .reshape(-1, 8))
