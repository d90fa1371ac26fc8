"""Arena physics: swept collisions, spawning, outcomes, determinism, limits."""

import numpy as np
import pytest

from dodge_lstm.core.arena import Arena
from dodge_lstm.core.collision import line_miss_distance, segment_min_distance_sq, swept_hit
from dodge_lstm.core.config import ArenaConfig, SpawnConfig
from dodge_lstm.core.spawning import spawn_balls

CFG = ArenaConfig()
R = CFG.contact_distance


def manual_arena(batch: int = 1, **kw) -> Arena:
    return Arena(batch, auto_spawn=False, **kw)


def test_fast_ball_crossing_between_ticks_is_a_hit():
    # 5 m/s: the ball jumps 0.5 m per tick. Passing 0.35 m beside the robot's centre, its path
    # cuts a 0.28 m chord of the contact circle, which it jumps over between two ticks: it
    # overlaps the robot at neither tick, yet it went through it.
    arena = manual_arena()
    arena.add_balls(np.array([0]), np.array([[0.35, 0.25]]), np.array([[0.0, -5.0]]))
    assert np.linalg.norm(arena.ball_pos[0, 0]) > R
    out = arena.step(0.0)
    assert np.linalg.norm(arena.ball_pos[0, 0]) > R  # no overlap at the tick after, either
    assert len(out) == 1 and out.hit[0] and out.threat[0]


def test_point_checks_would_have_missed_it():
    p0, p1 = np.array([0.35, 0.25]), np.array([0.35, -0.25])
    assert np.linalg.norm(p0) > R and np.linalg.norm(p1) > R
    assert swept_hit(p0, p1 - p0, R)


@pytest.mark.parametrize("gap,expect_hit", [(1e-3, False), (-1e-3, True)])
def test_tangent_pass(gap, expect_hit):
    # The ball passes beside the robot with its closest centre distance at R + gap.
    arena = manual_arena()
    arena.add_balls(np.array([0]), np.array([[R + gap, 3.0]]), np.array([[0.0, -5.0]]))
    hits = 0
    for _ in range(20):
        hits += int(arena.step(0.0).hit.sum())
    assert hits == int(expect_hit)
    assert not arena.alive.any()  # either way the ball was resolved


def test_exact_tangent_is_not_a_hit():
    assert not swept_hit(np.array([R, 1.0]), np.array([0.0, -2.0]), R)
    assert segment_min_distance_sq(np.array([R, 1.0]), np.array([0.0, -2.0])) == pytest.approx(
        R * R)


def test_threat_label_matches_static_robot_geometry():
    pos = np.array([[0.3, 5.0], [0.5, 5.0]])
    vel = np.array([[0.0, -4.0], [0.0, -4.0]])
    miss = line_miss_distance(pos, vel)
    np.testing.assert_allclose(miss, [0.3, 0.5])
    arena = manual_arena(2)
    arena.add_balls(np.array([0, 1]), pos, vel)
    assert arena.threat[0, 0] and not arena.threat[1, 0]


def test_stationary_robot_is_hit_by_every_threat_ball():
    arena = Arena(128, seed=3)
    threats = hits = threat_hits = 0
    for _ in range(300):
        out = arena.step(np.zeros(arena.batch))
        threats += int(out.threat.sum())
        hits += int(out.hit.sum())
        threat_hits += int((out.hit & out.threat).sum())
    assert threats > 500
    assert threat_hits == threats == hits  # and no non-threat ever hits a still robot


def test_robot_moves_along_heading_within_limits():
    yaw = np.array([0.0, np.pi / 2, -3 * np.pi / 4])
    arena = Arena(3, robot_yaw=yaw, auto_spawn=False)
    speeds = []
    for _ in range(20):
        arena.step(np.array([5.0, -5.0, 1.0]))  # beyond the limit: clipped
        speeds.append(arena.robot_speed.copy())
    speeds = np.array(speeds)
    dv = np.diff(np.vstack([np.zeros(3), speeds]), axis=0)
    assert np.all(np.abs(dv) <= CFG.accel_limit * CFG.dt + 1e-12)
    assert np.all(np.abs(speeds) <= CFG.speed_limit + 1e-12)
    np.testing.assert_allclose(speeds[-1], [1.0, -1.0, 1.0])
    # displacement is along each heading
    heading = np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)
    cross = heading[:, 0] * arena.robot_pos[:, 1] - heading[:, 1] * arena.robot_pos[:, 0]
    np.testing.assert_allclose(cross, 0.0, atol=1e-12)
    # 0.5 s ramp (0.25 m) then 1.5 s at 1 m/s
    np.testing.assert_allclose(np.linalg.norm(arena.robot_pos, axis=1), 1.75, atol=1e-9)


def test_balls_topped_up_to_num_balls():
    arena = Arena(64, spawn=SpawnConfig(num_balls=3), seed=1)
    for _ in range(30):
        arena.step(0.0)
    assert arena.alive.shape == (64, 3)
    assert arena.alive.sum() > 0.6 * 64 * 3
    # ids are unique per arena
    for a in range(64):
        ids = arena.ball_id[a][arena.alive[a]]
        assert len(set(ids.tolist())) == len(ids)


def test_same_seed_bit_identical():
    def run(seed):
        arena = Arena(32, seed=seed)
        rng = np.random.default_rng(0)
        log = []
        for _ in range(100):
            out = arena.step(rng.uniform(-1, 1, 32))
            log.append((out.arena.copy(), out.ball_id.copy(), out.hit.copy()))
        return arena, log

    a, la = run(11)
    b, lb = run(11)
    c, _ = run(12)
    assert np.array_equal(a.ball_pos, b.ball_pos) and np.array_equal(a.robot_pos, b.robot_pos)
    assert all(np.array_equal(x, y) for pa, pb in zip(la, lb) for x, y in zip(pa, pb))
    assert not np.array_equal(a.ball_pos, c.ball_pos)


def test_nan_command_rejected():
    with pytest.raises(ValueError, match="finite"):
        Arena(2).step(np.array([0.0, np.nan]))


@pytest.mark.parametrize("mode", ["straight", "robot", "center", "gaussian", "random"])
def test_spawn_distributions(mode):
    cfg = SpawnConfig(targeting=mode)
    rng = np.random.default_rng(0)
    n = 20000
    robot = np.tile([[2.0, -1.0]], (n, 1))
    pos, vel = spawn_balls(rng, robot, np.zeros(n), cfg)
    rel = pos - robot
    # ~5 m to the side (robot faces +x, so sideways is y), offset U(-1.5, 1.5) along x
    np.testing.assert_allclose(np.abs(rel[:, 1]), cfg.distance)
    assert rel[:, 0].min() >= -1.5 and rel[:, 0].max() <= 1.5
    assert abs(rel[:, 0].mean()) < 0.05 and rel[:, 0].std() == pytest.approx(3 / 12**0.5, rel=0.03)
    assert 0.45 < (rel[:, 1] > 0).mean() < 0.55  # both sides
    speed = np.linalg.norm(vel, axis=1)
    assert speed.min() >= 3.0 and speed.max() <= 5.0 and speed.mean() == pytest.approx(4, abs=0.03)
    # where does each ball cross the robot's track (y = robot y)?
    t_cross = -rel[:, 1] / vel[:, 1]
    cross_x = rel[:, 0] + t_cross * vel[:, 0]
    if mode == "straight":
        np.testing.assert_allclose(vel[:, 0], 0.0, atol=1e-12)
        np.testing.assert_allclose(cross_x, rel[:, 0])
    elif mode == "robot":
        assert cross_x.min() >= -1.0 - 1e-9 and cross_x.max() <= 1.0 + 1e-9
        assert cross_x.std() == pytest.approx(2 / 12**0.5, rel=0.03)
    elif mode == "center":
        # aimed at the world origin, i.e. at -robot in robot-relative terms
        aim = -robot
        d = aim - rel
        cross = d[:, 0] * vel[:, 1] - d[:, 1] * vel[:, 0]
        np.testing.assert_allclose(cross, 0.0, atol=1e-9)
    elif mode == "gaussian":
        assert abs(cross_x.mean()) < 0.02 and cross_x.std() == pytest.approx(0.5, rel=0.03)
    elif mode == "random":
        assert cross_x.std() > 1.0  # far wider than the aimed modes


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match="targeting"):
        SpawnConfig(targeting="sideways").validate()
