"""Robot-frame features, slot order and stability, placeholders, mirror, ring buffer."""

import numpy as np
import pytest

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.features import (
    PLACEHOLDER,
    FeatureWindow,
    ball_features,
    feature_names,
    mirror_fore_aft,
    placeholder_row,
)


def one(robot_pos, yaw, robot_vel, balls_pos, balls_vel, ids=None, slots=2):
    bp = np.asarray(balls_pos, float)[None]
    return ball_features(np.asarray([robot_pos], float), np.asarray([yaw], float),
                         np.asarray([robot_vel], float), bp, np.asarray(balls_vel, float)[None],
                         np.ones(bp.shape[:2], bool),
                         None if ids is None else np.asarray([ids]), slots)


def test_layout_and_names():
    assert feature_names() == ["b0_x", "b0_y", "b0_vx", "b0_vy", "b1_x", "b1_y", "b1_vx", "b1_vy"]
    assert placeholder_row().shape == (8,)


def test_robot_frame_rotation_and_translation():
    # Robot at (2, 1) facing +y (yaw 90 deg), driving at 1 m/s; ball at (2, 3) -> 2 m ahead.
    # Ball moves in world +x at 4 m/s -> in the robot frame that is to the robot's right (-y).
    rows, _ = one([2, 1], np.pi / 2, [0, 1], [[2, 3]], [[4, 0]], slots=1)
    x, y, vx, vy = rows[0]
    assert (x, y) == pytest.approx((2.0, 0.0), abs=1e-6)
    # relative velocity (4, -1) in world -> robot frame (-1, -4)
    assert (vx, vy) == pytest.approx((-1.0, -4.0), abs=1e-6)


def test_velocity_is_not_translated():
    # Same ball velocities and relative geometry, robot at two far-apart places:
    a, _ = one([0, 0], 0.3, [0, 0], [[1, 2]], [[1, -3]], slots=1)
    b, _ = one([100, -50], 0.3, [0, 0], [[101, -48]], [[1, -3]], slots=1)
    np.testing.assert_allclose(a, b, atol=1e-4)


def test_invariant_under_rigid_motion_of_the_world():
    rng = np.random.default_rng(0)
    pos, vel = rng.normal(size=(3, 2)) * 3, rng.normal(size=(3, 2)) * 3
    rob, rvel = np.array([0.5, -0.2]), np.array([0.3, 0.1])
    yaw = 0.4
    base, _ = one(rob, yaw, rvel, pos, vel)
    th, t = 1.1, np.array([7.0, -3.0])
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    moved, _ = one(rot @ rob + t, yaw + th, rot @ rvel, pos @ rot.T + t, vel @ rot.T)
    np.testing.assert_allclose(base, moved, atol=1e-4)


def test_slots_sorted_by_time_to_closest_approach():
    # Ball 1 (id 7) arrives in 0.5 s, ball 0 (id 3) in 1 s; id 9 passed 0.2 s ago.
    rows, ids = one([0, 0], 0.0, [0, 0], [[0, 4], [0, -2], [0, 1]],
                    [[0, -4], [0, 4], [0, 5]], ids=[3, 7, 9], slots=3)
    assert ids.tolist() == [[9, 7, 3]]
    assert rows[0, 5] == pytest.approx(-2.0) and rows[0, 9] == pytest.approx(4.0)


def test_empty_slots_hold_placeholder_and_extra_balls_are_dropped():
    rows, ids = ball_features(np.zeros((1, 2)), np.zeros(1), np.zeros((1, 2)),
                              np.array([[[0, 3.0], [9, 9]]]), np.array([[[0, -3.0], [0, 0]]]),
                              np.array([[True, False]]), np.array([[5, 6]]), num_slots=2)
    assert ids.tolist() == [[5, -1]]
    np.testing.assert_allclose(rows[0, 4:], PLACEHOLDER)
    _rows3, ids3 = one([0, 0], 0, [0, 0], [[0, 3], [0, 2], [0, 1]], [[0, -1]] * 3,
                      ids=[1, 2, 3], slots=2)
    assert ids3.tolist() == [[3, 2]]


def test_slot_stability_in_the_arena():
    """A ball keeps its slot from tick to tick unless a ball appears, leaves, or ranks swap."""
    arena = Arena(64, seed=5)
    prev = None
    changes = kept = 0
    seen_two = 0
    for _ in range(200):
        _rows, ids = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel,
                                  arena.ball_pos, arena.ball_vel, arena.alive, arena.ball_id)
        if prev is not None:
            both = (prev >= 0) & (ids >= 0)
            same_set = np.sort(prev, axis=1) == np.sort(ids, axis=1)
            stable_arenas = same_set.all(axis=1)
            kept += int((prev[stable_arenas] == ids[stable_arenas]).all(axis=1).sum())
            changes += int((~(prev[stable_arenas] == ids[stable_arenas]).all(axis=1)).sum())
            seen_two += int(both.all(axis=1).sum())
        prev = ids
        arena.step(0.0)  # still robot: time to closest approach falls at the same rate
    assert kept > 5000 and seen_two > 1000
    assert changes == 0


def test_placeholder_is_inside_the_range_of_real_rows():
    arena = Arena(128, seed=2)
    rows = []
    for _ in range(100):
        r, ids = ball_features(arena.robot_pos, arena.robot_yaw, arena.robot_vel, arena.ball_pos,
                               arena.ball_vel, arena.alive, arena.ball_id)
        rows.append(r[:, :4][ids[:, 0] >= 0])
        arena.step(0.0)
    real = np.concatenate(rows)
    lo, hi = real.min(axis=0), real.max(axis=0)
    assert np.all(np.asarray(PLACEHOLDER) >= lo) and np.all(np.asarray(PLACEHOLDER) <= hi)


def test_mirror_flips_fore_aft_and_command():
    f = np.arange(16, dtype=np.float32).reshape(2, 8)
    c = np.array([0.5, -1.0], np.float32)
    mf, mc = mirror_fore_aft(f, c)
    np.testing.assert_array_equal(mf[:, [0, 2, 4, 6]], -f[:, [0, 2, 4, 6]])
    np.testing.assert_array_equal(mf[:, [1, 3, 5, 7]], f[:, [1, 3, 5, 7]])
    np.testing.assert_array_equal(mc, -c)
    p = placeholder_row()
    np.testing.assert_array_equal(mirror_fore_aft(p[None], c[:1])[0][0], p)


def test_feature_window_ring_buffer_order():
    w = FeatureWindow(3, num_slots=1, batch=2)
    np.testing.assert_array_equal(w.window()[0], np.tile(PLACEHOLDER, (3, 1)))
    for k in range(5):
        w.push(np.full((2, 4), k, np.float32) + np.array([[0], [100]], np.float32))
    np.testing.assert_array_equal(w.window()[0, :, 0], [2, 3, 4])
    np.testing.assert_array_equal(w.window()[1, :, 0], [102, 103, 104])
    w.clear()
    np.testing.assert_array_equal(w.window()[1], np.tile(PLACEHOLDER, (3, 1)))
