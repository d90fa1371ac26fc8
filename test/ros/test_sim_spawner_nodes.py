"""The spawner and simulator nodes' own parameters, over DDS: `targeting` shapes the balls the
`ball_spawner` node throws (not only the core spawner's), and `cmd_timeout` stops the
`dodge_sim` robot once `cmd_vel` goes quiet (and only then)."""

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from geometry_msgs.msg import Twist, Vector3
from nav_msgs.msg import Odometry
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from ros_helpers import spin_until

from dodge_lstm.core.config import TARGETING_MODES, ArenaConfig, SpawnConfig
from dodge_lstm.core.odometry import stamp_ns
from dodge_lstm.core.spawning import spawn_balls
from dodge_lstm.ros.messages import quaternion_from_yaw
from dodge_lstm.ros.nodes.sim_node import DodgeSim
from dodge_lstm.ros.nodes.spawner_node import BallSpawner
from dodge_lstm.ros.qos import CMD_QOS, EVENT_QOS, STATE_QOS

pytestmark = pytest.mark.ros

ROBOT_XY, ROBOT_YAW, T0_S = (3.0, -2.0), 0.7, 4.2
"""The robot pose the spawner is shown: away from the world origin (so `center` and `robot`
aim apart) and turned (so `straight` is not just along an axis)."""


def robot_odom(t_s: float) -> Odometry:
    m = Odometry()
    m.header.stamp.sec, m.header.stamp.nanosec = divmod(round(t_s * 1e9), 1_000_000_000)
    m.header.frame_id, m.child_frame_id = "odom", "base_link"
    m.pose.pose.position.x, m.pose.pose.position.y = ROBOT_XY
    m.pose.pose.orientation = quaternion_from_yaw(ROBOT_YAW)
    return m


@pytest.mark.parametrize("targeting", TARGETING_MODES)
def test_spawner_node_throws_the_core_spawners_balls_for_its_targeting(ros_context, targeting):
    """The `ball_spawner` node, shown one robot state, throws exactly the balls the core
    `spawn_balls` draws for its `targeting`, `num_balls` and seed, and each mode means what it
    says (`straight` flies across the track, `center` at the origin, `robot` at the robot).

    Plausible bug: a node that declares `targeting` but throws with another config (the default
    `robot` aim, or a copy read before the parameters): every ROS run, `dodge-lstm sim
    --targeting ...` included, then ignores the mode while the core tests stay green.
    """
    seed, n = 11, 6
    cfg = SpawnConfig(num_balls=n, targeting=targeting, delay_max=0.0)  # all due at once
    executor = SingleThreadedExecutor(context=ros_context)
    spawner = BallSpawner(context=ros_context, parameter_overrides=[
        Parameter("seed", value=seed), Parameter("num_balls", value=n),
        Parameter("targeting", value=targeting), Parameter("delay_max", value=0.0)])
    probe = rclpy.create_node("spawn_probe", context=ros_context)
    odom_pub = probe.create_publisher(Odometry, "odom", STATE_QOS)
    spawns: list[Odometry] = []
    probe.create_subscription(Odometry, "balls/spawn", spawns.append, EVENT_QOS)
    executor.add_node(spawner)
    executor.add_node(probe)
    try:
        assert spin_until(executor, lambda: odom_pub.get_subscription_count() > 0
                          and spawner.pub.get_subscription_count() > 0, 10.0)
        odom_pub.publish(robot_odom(T0_S))
        assert spin_until(executor, lambda: len(spawns) >= n, 10.0), len(spawns)
        spawns.sort(key=lambda m: int(m.child_frame_id.removeprefix("ball_")))
        assert [m.child_frame_id for m in spawns] == [f"ball_{i}" for i in range(n)]
        assert all(stamp_ns(m) == round(T0_S * 1e9) for m in spawns)
        pos = np.array([[m.pose.pose.position.x, m.pose.pose.position.y] for m in spawns])
        vel = np.array([[m.twist.twist.linear.x, m.twist.twist.linear.y] for m in spawns])
    finally:
        executor.shutdown()
        probe.destroy_node()
        spawner.destroy_node()

    # The core spawner with the same config, on the node's ball stream (documented in the node:
    # the second child of the seed's SeedSequence; the first draws refill delays).
    _, ball_seq = np.random.SeedSequence(seed).spawn(2)
    want_pos, want_vel = spawn_balls(np.random.default_rng(ball_seq), np.tile(ROBOT_XY, (n, 1)),
                                     np.full(n, ROBOT_YAW), cfg)
    np.testing.assert_allclose(pos, want_pos, atol=1e-9)
    np.testing.assert_allclose(vel, want_vel, atol=1e-9)

    # What the mode means, independent of how the spawner draws.
    heading = np.array([math.cos(ROBOT_YAW), math.sin(ROBOT_YAW)])
    unit = vel / np.linalg.norm(vel, axis=1, keepdims=True)

    def cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]

    if targeting == "straight":  # perpendicular to the track, towards it
        np.testing.assert_allclose(unit @ heading, 0.0, atol=1e-9)
        assert np.all(np.einsum("ij,ij->i", unit, np.asarray(ROBOT_XY) - pos) > 0)
    elif targeting == "center":  # at the world origin
        to_origin = -pos / np.linalg.norm(pos, axis=1, keepdims=True)
        np.testing.assert_allclose(unit, to_origin, atol=1e-9)
    elif targeting == "robot":  # crosses the robot's track within robot_spread of it
        # pos + s * vel = robot + a * heading  ->  a from the 2x2 system
        rel = pos - np.asarray(ROBOT_XY)
        along = cross(rel, vel) / cross(heading[None], vel)
        assert np.all(np.abs(along) <= cfg.robot_spread + 1e-9), along
        assert np.all(np.abs(unit @ heading) > 1e-3)  # aimed, not thrown straight across


def drive_then_go_quiet(context, cmd_timeout: float, full_ticks: int = 5,
                        quiet_s: float = 1.2) -> tuple[list[tuple[float, float]], float]:
    """Run a `dodge_sim` with `cmd_timeout`, answer each of its odom ticks with 1 m/s until the
    robot has reported full speed `full_ticks` times, then send nothing. Returns the odom
    (sim seconds, linear.x) seen and the stamp of the last tick answered; stops once the sim
    has run `cmd_timeout + quiet_s` simulated seconds past it (bounded in wall time)."""
    executor = SingleThreadedExecutor(context=context)
    sim = DodgeSim(context=context, parameter_overrides=[
        Parameter("cmd_timeout", value=cmd_timeout), Parameter("real_time_factor", value=4.0),
        Parameter("publish_clock", value=False)])
    probe = rclpy.create_node("cmd_probe", context=context)
    cmd_pub = probe.create_publisher(Twist, "cmd_vel", CMD_QOS)
    odoms: list[tuple[float, float]] = []
    state = {"full": 0, "last_answered": None}

    def on_odom(msg: Odometry) -> None:
        t, v = stamp_ns(msg) * 1e-9, msg.twist.twist.linear.x
        odoms.append((t, v))
        if state["full"] >= full_ticks:
            return  # quiet from here on
        state["full"] += v >= 0.999
        cmd_pub.publish(Twist(linear=Vector3(x=1.0)))
        state["last_answered"] = t

    probe.create_subscription(Odometry, "odom", on_odom, STATE_QOS)
    executor.add_node(sim)
    executor.add_node(probe)
    try:
        def done() -> bool:
            last = state["last_answered"]
            return (state["full"] >= full_ticks and bool(odoms)
                    and odoms[-1][0] >= last + cmd_timeout + quiet_s)

        assert spin_until(executor, done, 15.0), (state, odoms[-3:])
    finally:
        executor.shutdown()
        probe.destroy_node()
        sim.destroy_node()
    return odoms, state["last_answered"]


def test_sim_stops_the_robot_once_cmd_vel_is_quiet_for_cmd_timeout(ros_context):
    """The `dodge_sim` node keeps the commanded 1 m/s while `cmd_vel` is fresh, keeps it for
    `cmd_timeout` after the last command, then drops it and brakes to a standstill (odom twist
    0); a longer `cmd_timeout` drops it correspondingly later.

    Plausible bugs: a simulator that ignores its `cmd_timeout` parameter, so a crashed driver
    leaves the robot running at its last speed forever, or one that uses a fixed timeout (the
    0.5 s default) whatever `ros2 param set` / the params file says.
    """
    dt = ArenaConfig().dt
    drops = {}
    for cmd_timeout in (0.25, 1.45):  # mid-tick, so float rounding cannot move the boundary
        odoms, last = drive_then_go_quiet(ros_context, cmd_timeout)
        driving = [v for t, v in odoms if t <= last]
        assert max(driving) == pytest.approx(1.0)
        # Fresh (and within the timeout): full speed on every tick.
        held = [v for t, v in odoms if last - 4 * dt < t <= last + cmd_timeout]
        assert held and min(held) >= 0.999, (cmd_timeout, held)
        after = [(t, v) for t, v in odoms if t > last]
        drop = next((t for t, v in after if v < 0.999), None)
        assert drop is not None, f"cmd_timeout={cmd_timeout}: still {after[-1]} when quiet"
        # The command at tick k is fresh through tick k + floor(timeout / dt); the step after
        # that is the first at reduced speed, published one tick later. Up to two ticks of
        # leeway for a command that reached the simulator a tick or two late.
        expected = (math.floor(cmd_timeout / dt) + 2) * dt
        assert expected - 1e-6 <= drop - last <= expected + 2 * dt + 1e-6, (
            cmd_timeout, drop - last, expected)
        # ... and it brakes to a standstill at accel_limit, and stays there.
        stopped = [t for t, v in after if abs(v) <= 1e-9]
        assert stopped, (cmd_timeout, after[-3:])
        assert all(abs(v) <= 1e-9 for t, v in after if t >= stopped[0])
        brake_s = 1.0 / ArenaConfig().accel_limit
        assert stopped[0] - drop <= brake_s + dt + 1e-6
        drops[cmd_timeout] = drop - last
    assert drops[1.45] - drops[0.25] == pytest.approx(1.2, abs=2 * dt + 1e-6)
