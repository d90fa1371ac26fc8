"""The MuJoCo world (issue 17, part 1): the file that is loaded is the one the config makes, the
robot reaches a commanded speed within its actuator limits, and a ball that touches it is a hit.

Plausible bugs: `worlds/dodge_arena.xml` edited by hand or left behind a config change (a robot
of another size than the arena's), wheel kinematics with a sign swapped (the robot turns when
told to go straight, or goes backwards), actuators without the torque limit (an instant speed
change the arena's acceleration limit forbids), casters dragging on the floor (MuJoCo takes the
larger friction of two geoms unless told otherwise: the robot barely moves), a contact check
that misses robot-ball contacts (every ball "passed").
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

mujoco = pytest.importorskip("mujoco")

from dodge_lstm.core.config import ArenaConfig  # noqa: E402
from dodge_lstm.physics.mjcf_world import BodyConfig, mjcf  # noqa: E402
from dodge_lstm.physics.mujoco_world import MujocoWorld  # noqa: E402

WORLD = Path(__file__).resolve().parents[2] / "worlds" / "dodge_arena.xml"


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


def test_a_commanded_speed_is_reached_within_the_actuator_limits():
    world = MujocoWorld()
    cfg, body = world.arena, world.body
    limit = body.wheel_torque_limit(cfg)
    speeds, worst_torque = [0.0], 0.0
    for _ in range(15):
        world.step(0.8)
        speeds.append(world.robot_speed())
        worst_torque = max(worst_torque, float(np.abs(world.data.actuator_force).max()))
    speeds = np.array(speeds)
    assert speeds[-1] == pytest.approx(0.8, abs=0.02)  # reached, and held
    assert speeds[6] > 0.75  # within 0.6 s (0.4 s at the arena's 2 m/s^2)
    assert np.diff(speeds).max() / cfg.dt <= cfg.accel_limit * 1.05  # torque-limited ramp
    assert worst_torque <= limit + 1e-9
    pos, yaw = world.robot_pose()
    assert pos[0] > 0.5 and abs(pos[1]) < 0.02 and abs(yaw) < 0.02  # straight ahead
    for _ in range(10):
        world.step(0.0, angular_z=1.0)
    assert world.robot_pose()[1] > 0.5  # angular.z > 0 turns left (counter-clockwise)
    for _ in range(30):  # driving and turning at once (a zero-friction caster blew up here)
        world.step(1.0, angular_z=-2.0)
    assert world.data.warning[mujoco.mjtWarning.mjWARN_BADQACC].number == 0
    with pytest.raises(ValueError, match="finite"):
        world.step(math.nan)


def test_a_ball_that_touches_the_robot_is_a_hit_and_one_that_misses_passes():
    world = MujocoWorld()
    cfg = world.arena
    straight = world.throw(np.array([4.0, 0.0]), np.array([-4.0, 0.0]))
    wide = world.throw(np.array([-4.0, 1.5]), np.array([4.0, 0.0]))
    assert (straight, wide) == (0, 1)
    ended: dict[int, tuple[bool, int]] = {}
    for tick in range(1, 40):
        for r in world.step(0.0):
            ended[r.ball] = (r.hit, tick)
        if len(ended) == 2:
            break
    hit, tick = ended[straight]
    # It meets the disc ~ (4 m - robot radius - ball reach at chassis height) / 4 m/s later.
    assert hit and abs(tick - (4.0 - cfg.contact_distance) / 4.0 / cfg.dt) <= 1.5
    assert ended[wide][0] is False
    assert not world.flying.any()  # both parked again, free for the next throw


def test_a_rolling_ball_slows_a_little():
    world = MujocoWorld()
    ball = world.throw(np.array([-5.0, 5.0]), np.array([4.0, 0.0]))
    for _ in range(10):
        world.step(0.0)
    _, vel = world.ball_state(ball)
    speed = float(np.hypot(*vel))
    assert 3.8 < speed < 4.0 and abs(vel[1]) < 0.01  # rolling friction, straight on
