"""The MuJoCo simulator (issue 17): the world file that is loaded is the one the config makes,
the robot reaches a commanded speed within its actuator limits, a ball that touches it is a hit
(MuJoCo's contact sensor), and `MujocoArena` throws exactly the arena's balls.

Plausible bugs: `worlds/dodge_arena.xml` edited by hand or left behind a config change (a robot
of another size than the arena's); wheel kinematics with a sign swapped (the robot turns when
told to go straight, or goes backwards); actuators without the torque limit (an instant speed
change the arena's acceleration limit forbids); casters dragging on the floor (MuJoCo takes the
larger friction of two geoms unless told otherwise: the robot barely moves); a contact sensor
that misses robot-ball contacts (every ball "passed", a stationary robot never hit); a MuJoCo
backend that draws its own balls (its scores then compare nothing with the arena's); results
that depend on how many threads stepped the worlds; randomised physics that touches the
spawner's random stream or leaves every world the same.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from dodge_lstm.core.arena import Arena  # noqa: E402
from dodge_lstm.core.config import ArenaConfig, SpawnConfig  # noqa: E402
from dodge_lstm.core.evaluation import evaluate  # noqa: E402
from dodge_lstm.core.expert import ExpertPolicy  # noqa: E402
from dodge_lstm.physics.backends import arena_factory  # noqa: E402
from dodge_lstm.physics.mjcf_world import BodyConfig, mjcf  # noqa: E402
from dodge_lstm.physics.mujoco_arena import RANDOMIZED, MujocoArena  # noqa: E402
from dodge_lstm.runtime.learned_policy import make_policy  # noqa: E402

WORLD = Path(__file__).resolve().parents[2] / "worlds" / "dodge_arena.xml"


def one_world(**kwargs) -> MujocoArena:
    """One world, balls only when thrown, stepped on the calling thread."""
    return MujocoArena(1, spawn=SpawnConfig(num_balls=2), auto_spawn=False, threads=0, **kwargs)


def test_the_shipped_world_is_the_generated_one_and_matches_the_arena():
    assert WORLD.read_text() == mjcf(), \
        "regenerate: python -m dodge_lstm.physics.mjcf_world > worlds/dodge_arena.xml"
    m = mujoco.MjModel.from_xml_path(str(WORLD))
    cfg, body = ArenaConfig(), BodyConfig()
    geom = lambda name: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, name)  # noqa: E731
    assert m.geom_size[geom("chassis")][0] == pytest.approx(cfg.robot_radius)
    assert all(m.geom_size[geom(f"ball_{i}")][0] == pytest.approx(cfg.ball_radius)
               for i in range(body.pool))
    assert m.nu == 2 and np.allclose(np.abs(m.actuator_forcerange),
                                     body.wheel_torque_limit(cfg))
    robot = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, "robot")
    assert m.body_subtreemass[robot] == pytest.approx(body.robot_mass)
    assert m.nsensor == body.pool  # one robot-ball contact sensor per ball


def test_a_commanded_speed_is_reached_within_the_actuator_limits():
    world = one_world()
    cfg, body = world.cfg, world.body
    limit = body.wheel_torque_limit(cfg)
    speeds, worst_torque = [0.0], 0.0
    for _ in range(15):
        world.step(0.8)
        speeds.append(float(world.robot_speed[0]))
        worst_torque = max(worst_torque, float(np.abs(world._datas[0].actuator_force).max()))
    speeds = np.array(speeds)
    assert speeds[-1] == pytest.approx(0.8, abs=0.02)  # reached, and held
    assert speeds[6] > 0.75  # within 0.6 s (0.4 s at the arena's 2 m/s^2)
    assert np.diff(speeds).max() / cfg.dt <= cfg.accel_limit * 1.05  # torque-limited ramp
    assert worst_torque <= limit + 1e-9
    pos, yaw = world.robot_pos[0], world.robot_yaw[0]
    assert pos[0] > 0.5 and abs(pos[1]) < 0.02 and abs(yaw) < 0.02  # straight ahead
    for _ in range(10):
        world.step(0.0, angular_z=1.0)
    assert world.robot_yaw[0] > 0.5 and world.robot_yaw_rate[0] > 0.5  # left (CCW)
    for _ in range(30):  # driving and turning at once (a zero-friction caster blew up here)
        world.step(1.0, angular_z=-2.0)
    assert world._unstable_count() == 0
    with pytest.raises(ValueError, match="finite"):
        world.step(math.nan)
    with pytest.raises(ValueError, match="finite"):
        world.step(0.0, angular_z=math.inf)


def test_a_ball_that_touches_the_robot_is_a_hit_and_one_that_misses_passes():
    world = one_world()
    cfg = world.cfg
    ids = world.add_balls(np.array([0, 0]), np.array([[4.0, 0.0], [-4.0, 1.5]]),
                          np.array([[-4.0, 0.0], [4.0, 0.0]]))
    assert ids.tolist() == [0, 1] and world.threat[0].tolist() == [True, False]
    ended: dict[int, tuple[bool, int]] = {}
    for tick in range(1, 40):
        out = world.step(0.0)
        ended |= {int(b): (bool(h), tick) for b, h in zip(out.ball_id, out.hit, strict=True)}
        if len(ended) == 2:
            break
    hit, tick = ended[0]
    # It meets the disc ~ (4 m - contact distance) / 4 m/s later.
    assert hit and abs(tick - (4.0 - cfg.contact_distance) / 4.0 / cfg.dt) <= 1.5
    assert ended[1][0] is False
    assert not world.in_world.any() and not world.alive.any()  # both parked, slots free
    assert world.robot_pos[0, 0] < -0.02  # the hit shoved the robot back along -x


def test_a_rolling_ball_slows_a_little():
    world = one_world()
    world.add_balls(np.array([0]), np.array([[-5.0, 5.0]]), np.array([[4.0, 0.0]]))
    for _ in range(10):
        world.step(0.0)
    vel = world.ball_vel[0, 0]
    assert 3.8 < float(np.hypot(*vel)) < 4.0 and abs(vel[1]) < 0.01  # rolling friction


def test_the_same_seed_throws_the_arenas_balls_and_threads_do_not_change_the_physics():
    """Robots standing still: the first throws of every world are the arena's (same ticks,
    ids, threat labels, nearly the same places); 0, 1 and 2 rollout threads give the same
    state to the bit."""
    seed, n = 5, 6
    arena = Arena(n, seed=seed)
    worlds = [MujocoArena(n, seed=seed, threads=t) for t in (0, 1, 2)]
    for _ in range(12):  # before any ball can resolve
        arena.step(0.0)
        for w in worlds:
            w.step(0.0)
    assert arena.alive.any()
    np.testing.assert_array_equal(worlds[0].alive, arena.alive)
    np.testing.assert_array_equal(worlds[0].threat, arena.threat)
    np.testing.assert_array_equal(worlds[0].ball_id, arena.ball_id)
    for w in worlds[1:]:
        np.testing.assert_array_equal(w.state, worlds[0].state)
    # Rolling balls have slowed a little and the robot settled on its wheels: close, not equal.
    alive = arena.alive
    np.testing.assert_allclose(worlds[0].ball_pos[alive], arena.ball_pos[alive], atol=0.05)
    for w in worlds:
        w.close()


def test_in_an_evaluation_mujoco_hits_a_standing_robot_and_the_expert_dodges():
    """`evaluate` on MuJoCo: a robot that stands still is hit by (nearly) every threat, since
    hits are contacts MuJoCo reports; the expert dodges (nearly) all of them."""
    make = arena_factory("mujoco")
    still = evaluate(make_policy("stationary"), 150, seed=3, arenas=16, make_arena=make)
    assert still.backend == "mujoco" and still.threat_balls > 30
    assert still.threat_dodge_rate < 0.1, still
    expert = evaluate(ExpertPolicy(), 150, seed=3, arenas=16, make_arena=make)
    assert expert.threat_dodge_rate > 0.9, expert


def test_randomised_physics_varies_each_world_around_the_defaults_and_keeps_the_balls():
    spread, n = 0.3, 8
    plain, rand = MujocoArena(n, seed=2), MujocoArena(n, seed=2, randomize=spread)
    base = plain.body
    for name in RANDOMIZED:
        values = np.array([getattr(b, name) for b in rand.bodies])
        ref = getattr(base, name)
        assert np.all(np.abs(values / ref - 1.0) <= spread + 1e-12), name
        assert np.unique(values).size == n, name  # every world its own
    robot = mujoco.mj_name2id(rand.model, mujoco.mjtObj.mjOBJ_BODY, "robot")
    assert len({float(m.body_subtreemass[robot]) for m in rand.models}) == n
    plain.step(1.0)
    rand.step(1.0)  # mid-ramp: stronger or weaker motors, heavier or lighter robots
    assert np.abs(plain.robot_speed - rand.robot_speed).max() > 0.02
    for _ in range(8):
        plain.step(0.5)
        rand.step(0.5)
    np.testing.assert_array_equal(plain.ball_id, rand.ball_id)  # the same throws
    assert rand.backend == "mujoco±0.3"
    with pytest.raises(ValueError, match="randomize"):
        MujocoArena(1, randomize=1.0)
