"""`ros2 param set` on the nodes, through the real parameter services.

Parameters that can change safely at run time accept a set, validated (an out-of-range value is
refused with a reason) and applied; the rest are read-only and say why in their description.
The plausible bugs: a set that succeeds but changes nothing (the old state: every value was read
once), a bad value accepted and breaking the node, a read-only parameter without a reason.
"""

import pytest

rclpy = pytest.importorskip("rclpy")

from rcl_interfaces.msg import Parameter as ParameterMsg  # noqa: E402
from rcl_interfaces.msg import ParameterType, ParameterValue  # noqa: E402
from rcl_interfaces.srv import DescribeParameters, SetParameters  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from ros_helpers import call_service  # noqa: E402

from dodge_lstm.ros.nodes.expert_node import ExpertDriver  # noqa: E402
from dodge_lstm.ros.nodes.policy_node import DodgePolicy  # noqa: E402
from dodge_lstm.ros.nodes.sim_node import DodgeSim  # noqa: E402
from dodge_lstm.ros.nodes.spawner_node import BallSpawner  # noqa: E402

pytestmark = pytest.mark.ros


def _value(v) -> ParameterValue:
    if isinstance(v, bool):
        return ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=v)
    if isinstance(v, int):
        return ParameterValue(type=ParameterType.PARAMETER_INTEGER, integer_value=v)
    if isinstance(v, float):
        return ParameterValue(type=ParameterType.PARAMETER_DOUBLE, double_value=v)
    return ParameterValue(type=ParameterType.PARAMETER_STRING, string_value=v)


class ParamClient:
    """`ros2 param set` / `describe` over the node's own services."""

    def __init__(self, context, executor, node_name: str) -> None:
        self.node = rclpy.create_node(f"param_client_{node_name}", context=context)
        executor.add_node(self.node)
        self.executor = executor
        self.set_client = self.node.create_client(SetParameters, f"{node_name}/set_parameters")
        self.describe_client = self.node.create_client(
            DescribeParameters, f"{node_name}/describe_parameters")

    def set(self, name: str, value) -> tuple[bool, str]:
        req = SetParameters.Request(parameters=[ParameterMsg(name=name, value=_value(value))])
        res = call_service(self.executor, self.set_client, req, 10.0)
        assert res is not None, "set_parameters did not answer"
        return res.results[0].successful, res.results[0].reason

    def describe(self, name: str):
        res = call_service(self.executor, self.describe_client,
                           DescribeParameters.Request(names=[name]), 10.0)
        assert res is not None
        return res.descriptors[0]


@pytest.fixture
def graph(ros_context):
    executor = SingleThreadedExecutor(context=ros_context)
    nodes = {"ball_spawner": BallSpawner(context=ros_context),
             "dodge_sim": DodgeSim(context=ros_context),
             "dodge_policy": DodgePolicy(context=ros_context),
             "expert_driver": ExpertDriver(context=ros_context)}
    for node in nodes.values():
        executor.add_node(node)
    clients = {name: ParamClient(ros_context, executor, name) for name in nodes}
    yield nodes, clients
    executor.shutdown()
    for c in clients.values():
        c.node.destroy_node()
    for node in nodes.values():
        node.destroy_node()


def test_spawner_parameters_change_the_balls_thrown(graph):
    nodes, clients = graph
    spawner, client = nodes["ball_spawner"], clients["ball_spawner"]
    assert client.set("num_balls", 3) == (True, "")
    assert spawner.cfg.num_balls == 3 and len(spawner.slots) == 3
    assert client.set("num_balls", 1)[0]
    assert len(spawner.slots) == 1  # empty slots retire at once
    assert client.set("targeting", "gaussian")[0] and spawner.cfg.targeting == "gaussian"
    assert client.set("speed_max", 7.0)[0] and spawner.cfg.speed_max == 7.0
    ok, reason = client.set("speed_min", 9.0)  # above speed_max: an empty range
    assert not ok and "speed_min <= speed_max" in reason and spawner.cfg.speed_min == 3.0
    ok, reason = client.set("targeting", "sideways")
    assert not ok and "targeting must be one of" in reason
    ok, reason = client.set("num_balls", 0)
    assert not ok and "num_balls must be >= 1" in reason and spawner.cfg.num_balls == 1
    ok, _ = client.set("seed", 5)
    assert not ok and "read-only" in client.describe("seed").description


def test_simulator_rate_and_timeouts_are_live_physics_is_not(graph):
    nodes, clients = graph
    sim, client = nodes["dodge_sim"], clients["dodge_sim"]
    assert client.set("real_time_factor", 4.0) == (True, "")
    assert sim.real_time_factor == 4.0 and sim.timer.timer_period_ns == 25_000_000
    ok, reason = client.set("real_time_factor", 0.0)
    assert not ok and "real_time_factor must be > 0" in reason and sim.real_time_factor == 4.0
    assert client.set("cmd_timeout", 1.5)[0] and sim.cmd_timeout == 1.5
    ok, _ = client.set("robot_radius", 0.5)
    assert not ok and sim.cfg.robot_radius == 0.17
    assert "fixed for a run" in client.describe("robot_radius").description


def test_policy_watchdog_and_report_period_are_live(graph):
    nodes, clients = graph
    policy, client = nodes["dodge_policy"], clients["dodge_policy"]
    assert client.set("stale_periods", 3.0)[0]
    assert policy.get_parameter("stale_periods").value == 3.0
    ok, reason = client.set("stale_periods", -1.0)
    assert not ok and "stale_periods must be > 0" in reason
    ok, reason = client.set("timesteps", -1)
    assert not ok and "timesteps must be >= 1 (or 0: unset)" in reason
    assert "next configure" in client.describe("timesteps").description
    ok, _ = client.set("rate_hz", 20.0)
    assert not ok and "read-only" in client.describe("rate_hz").description


def test_expert_physics_is_live_and_validated(graph):
    nodes, clients = graph
    expert, client = nodes["expert_driver"], clients["expert_driver"]
    assert client.set("speed_limit", 1.5)[0] and expert.arena_cfg.speed_limit == 1.5
    ok, reason = client.set("accel_limit", 0.0)
    assert not ok and "accel_limit must be > 0" in reason and expert.arena_cfg.accel_limit == 2.0
