"""One source for what every node is started with, and a window shape that follows the model.

The plausible bugs: a launch argument that reaches its node under `/**`, where the parameters
file's own section beats it (the default launch drove with zeros: windows (5, 8) for a model
that takes (5, 16)); a launch file and `dodge-lstm sim` that compute a node's parameters each
their own way; a feature node whose window is a parameter that has to agree with the model.

The launch files themselves need the launch system, which cannot be installed here: they are
thin (`graph_nodes` for `options_from_launch(...)`, as launch_ros Nodes), and
`test_launch_sim.py` / `test_launch_record.py` run them where ROS 2 is installed. What is tested
here is everything they are made of.
"""

from __future__ import annotations

import pytest

pytest.importorskip("rclpy")

import numpy as np
import rclpy
from lifecycle_msgs.msg import Transition
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from ros_helpers import spin_until
from std_msgs.msg import Float32MultiArray

from dodge_lstm.cli import build_parser
from dodge_lstm.cli_sim import sim_options
from dodge_lstm.resources import default_model, default_params_file
from dodge_lstm.ros.bringup.graph import in_process_nodes
from dodge_lstm.ros.bringup.graph_nodes import EXECUTABLES, graph_nodes
from dodge_lstm.ros.bringup.launch_arguments import (
    RECORD_ARGUMENTS,
    SIM_ARGUMENTS,
    options_from_launch,
)
from dodge_lstm.ros.bringup.lifecycle_client import LifecycleClient
from dodge_lstm.ros.bringup.options import SimOptions, check_options
from dodge_lstm.ros.bringup.processes import node_commands
from dodge_lstm.ros.messages import msg_to_window
from dodge_lstm.ros.params_file import node_parameters

pytestmark = pytest.mark.ros

PARAMS = str(default_params_file())
BAG = "/tmp/dodge_one_source_bag"

# Every launch argument, and the `dodge-lstm sim` flags that mean the same. `rviz` opens a
# viewer, not a node of the graph: the CLI has no rviz (none is installed where it runs).
SIM_CASES = [
    ("defaults", {}, []),
    ("timesteps+units", {"timesteps": "8", "units": "20"}, ["--timesteps", "8", "--units", "20"]),
    ("timesteps", {"timesteps": "3"}, ["--timesteps", "3"]),
    ("units", {"units": "32"}, ["--units", "32"]),
    ("model", {"model": "/x/m.tflite"}, ["--model", "/x/m.tflite"]),
    ("policy expert", {"policy": "expert"}, ["--policy", "expert"]),
    ("policy teleop", {"policy": "teleop"}, ["--policy", "teleop"]),
    ("record", {"record": "true"}, ["--record"]),
    ("record+output_dir", {"record": "true", "output_dir": BAG}, ["--record", BAG]),
    ("output_dir alone", {"output_dir": BAG}, []),
    ("sim", {"sim": "embedded"}, ["--sim", "embedded"]),
    ("sim mujoco", {"sim": "mujoco"}, ["--sim", "mujoco"]),
    ("sim mujoco+lockstep", {"sim": "mujoco", "lockstep": "true"},
     ["--sim", "mujoco", "--lockstep"]),
    ("lockstep", {"lockstep": "true"}, ["--lockstep"]),
    ("sensing", {"sensing": "realistic"}, ["--sensing", "realistic"]),
    ("sensing+lockstep+seed", {"sensing": "realistic", "lockstep": "true", "seed": "4"},
     ["--sensing", "realistic", "--lockstep", "--seed", "4"]),
    ("spawner", {"spawner": "sim"}, ["--spawner", "sim"]),
    ("lockstep+spawner node", {"lockstep": "true", "spawner": "node"},
     ["--lockstep", "--spawner", "node"]),
    ("stamped", {"stamped": "true"}, ["--stamped"]),
    ("label", {"label": "expert", "record": "true", "output_dir": BAG},
     ["--label", "expert", "--record", BAG]),
    ("markers", {"markers": "false"}, ["--no-markers"]),
    ("params_file", {"params_file": PARAMS}, ["--params-file", PARAMS]),
    ("seed", {"seed": "3"}, ["--seed", "3"]),
    ("real_time_factor", {"real_time_factor": "2.5"}, ["--real-time-factor", "2.5"]),
    ("rviz", {"rviz": "true"}, []),
]
RECORD_CASES = [
    ("defaults", {}, ["--policy", "expert", "--record"]),
    ("driver teleop", {"driver": "teleop"}, ["--policy", "teleop", "--record"]),
    ("output_dir", {"output_dir": BAG}, ["--policy", "expert", "--record", BAG]),
    ("seed", {"seed": "4"}, ["--policy", "expert", "--record", "--seed", "4"]),
    ("real_time_factor", {"real_time_factor": "3"},
     ["--policy", "expert", "--record", "--real-time-factor", "3"]),
    ("markers", {"markers": "false"}, ["--policy", "expert", "--record", "--no-markers"]),
    ("params_file", {"params_file": PARAMS}, ["--policy", "expert", "--record",
                                              "--params-file", PARAMS]),
    ("rviz", {"rviz": "true"}, ["--policy", "expert", "--record"]),
]


def launched(arguments, given: dict[str, str]) -> dict[str, str]:
    """`context.launch_configurations` as the launch system fills it: declared defaults, then
    what the command line gave."""
    return {a.name: a.default for a in arguments} | given


def cli(argv: list[str]) -> SimOptions:
    return sim_options(build_parser().parse_args(["sim", *argv]))


@pytest.mark.parametrize(("launch_file", "arguments", "cases"), [
    ("sim", SIM_ARGUMENTS, SIM_CASES), ("record", RECORD_ARGUMENTS, RECORD_CASES)])
def test_every_launch_argument_is_tested_against_a_flag(launch_file, arguments, cases):
    """A launch argument added without a `dodge-lstm sim` equivalent fails here."""
    covered = {name for _, given, _ in cases for name in given}
    assert covered == {a.name for a in arguments}, launch_file


@pytest.mark.parametrize(("name", "given", "argv"), SIM_CASES, ids=[c[0] for c in SIM_CASES])
def test_sim_launch_starts_the_nodes_dodge_lstm_sim_starts(name, given, argv):
    launch = graph_nodes(options_from_launch(launched(SIM_ARGUMENTS, given), "sim"))
    assert launch == graph_nodes(cli(argv))


@pytest.mark.parametrize(("name", "given", "argv"), RECORD_CASES,
                         ids=[c[0] for c in RECORD_CASES])
def test_record_launch_starts_the_nodes_dodge_lstm_sim_starts(name, given, argv):
    launch = graph_nodes(options_from_launch(launched(RECORD_ARGUMENTS, given), "record"))
    assert launch == graph_nodes(cli(argv))
    assert any(spec.name == "dodge_recorder" for spec in launch)


def test_the_arguments_reach_their_nodes():
    """Spot checks that the shared list carries the choices at all (a `graph_nodes` that
    dropped them would pass the equalities above)."""
    by_name = {s.name: s for s in graph_nodes(cli(
        ["--timesteps", "8", "--units", "20", "--seed", "3", "--record", BAG, "--label",
         "expert", "--lockstep", "--spawner", "node", "--stamped", "--real-time-factor", "2"]))}
    assert by_name["dodge_policy"].overrides == {"use_sim_time": True, "stamped": True,
                                                 "timesteps": 8, "units": 20}
    assert by_name["dodge_policy"].lifecycle
    assert by_name["ball_spawner"].overrides == {"seed": 3}
    assert by_name["dodge_sim"].overrides == {"lockstep": True, "stamped": True,
                                              "real_time_factor": 2.0}
    assert by_name["dodge_recorder"].overrides["output_dir"] == BAG
    assert "expert/cmd_vel" in by_name["dodge_recorder"].overrides["topics"]
    assert by_name["expert_shadow"].remaps == (("cmd_vel", "expert/cmd_vel"),)
    # No window parameters anywhere: the feature node takes the policy's model's window.
    assert by_name["ball_features"].overrides == {}
    assert {s.executable for s in by_name.values()} <= set(EXECUTABLES)
    teleop = {s.name for s in graph_nodes(cli(["--policy", "teleop"]))}
    assert teleop == {"dodge_sim", "ball_spawner", "dodge_markers"}
    # In lockstep the simulator throws the balls (the arena's twin), with the spawner's settings.
    twin = {s.name: s for s in graph_nodes(cli(["--lockstep", "--seed", "7",
                                                "--scenario", "fast"]))}
    assert "ball_spawner" not in twin
    assert twin["dodge_sim"].overrides == {
        "lockstep": True, "stamped": False, "spawner": "sim", "seed": 7,
        **{k: v for k, v in node_parameters(PARAMS, "ball_spawner").items()
           if k not in ("seed", "accel_limit", "ball_radius", "robot_radius", "speed_limit")},
        "speed_min": 5.0, "speed_max": 7.0}


def test_sim_mujoco_runs_the_mujoco_simulator_under_the_simulators_name():
    """`sim:=mujoco` swaps the executable, nothing else: same node name (one parameters
    section), same overrides, same other nodes. Plausible bug: a backend flag that is parsed
    and dropped, so `--sim mujoco` runs the kinematic arena."""
    for argv in ([], ["--lockstep"]):
        embedded, mujoco = graph_nodes(cli(argv)), graph_nodes(cli(["--sim", "mujoco", *argv]))
        assert [s.executable for s in mujoco if s.name == "dodge_sim"] == ["mujoco_sim"]
        assert [s.executable for s in embedded if s.name == "dodge_sim"] == ["dodge_sim"]
        assert [(s.name, s.overrides, s.remaps) for s in mujoco] == \
            [(s.name, s.overrides, s.remaps) for s in embedded]


def test_sensing_puts_the_detector_before_the_feature_node():
    """`--sensing realistic`: a `ball_detector` seeded as the run, the feature node reading
    detections, the detections recorded; knobs and the tracker reach their nodes. Plausible
    bug: the flag parsed and dropped (the robot keeps reading ground truth)."""
    plain = {s.name: s for s in graph_nodes(cli(["--record", BAG]))}
    assert "ball_detector" not in plain and plain["ball_features"].overrides == {}
    sensed = {s.name: s for s in graph_nodes(cli(
        ["--sensing", "realistic", "--noise-std", "0.1", "--seed", "5", "--tracker", "raw",
         "--record", BAG]))}
    assert sensed["ball_detector"].overrides == {"sensing": "realistic", "noise_std": 0.1,
                                                 "seed": 5}
    assert sensed["ball_features"].overrides == {"input": "detections", "tracker": "raw"}
    # The policy node picks the sensing-trained model by the same `input`.
    assert sensed["dodge_policy"].overrides["input"] == "detections"
    assert "input" not in plain["dodge_policy"].overrides
    assert cli(["--sensing", "realistic"]).model_path == default_model(detections=True)
    assert cli(["--sensing", "realistic", "--model", "m.tflite"]).model_path.name == "m.tflite"
    assert "balls/detections" in sensed["dodge_recorder"].overrides["topics"]
    names = [s.name for s in graph_nodes(cli(["--sensing", "realistic"]))]
    assert names.index("ball_detector") < names.index("ball_features")
    # The expert drives on the truth with the detector reporting: privileged demonstrations.
    taught = {s.name: s for s in graph_nodes(cli(
        ["--policy", "expert", "--sensing", "realistic", "--record", BAG]))}
    assert taught["ball_detector"].overrides == {"sensing": "realistic"}
    assert "ball_features" not in taught and "expert_driver" in taught
    assert "balls/detections" in taught["dodge_recorder"].overrides["topics"]


@pytest.mark.parametrize(("given", "argv", "message"), [
    ({"sim": "gazebo"}, ["--sim", "gazebo"], "gazebo is not available yet"),
    ({"policy": "expert", "label": "expert"}, ["--policy", "expert", "--label", "expert"],
     "needs policy lstm"),
    ({"policy": "teleop", "lockstep": "true"}, ["--policy", "teleop", "--lockstep"],
     "lockstep needs a driver"),
    ({"policy": "teleop", "sensing": "realistic"}, ["--policy", "teleop", "--sensing",
                                                    "realistic"], "needs policy lstm"),
])
def test_both_entry_points_refuse_the_same_choices_with_the_same_words(given, argv, message):
    errors = []
    for opts in (options_from_launch(launched(SIM_ARGUMENTS, given), "sim"), cli(argv)):
        with pytest.raises(ValueError, match=message) as info:
            check_options(opts)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_a_bad_launch_value_is_a_clear_error():
    with pytest.raises(ValueError, match="timesteps:=five is not an integer"):
        options_from_launch(launched(SIM_ARGUMENTS, {"timesteps": "five"}))
    with pytest.raises(ValueError, match="lockstep:=yes must be true or false"):
        options_from_launch(launched(SIM_ARGUMENTS, {"lockstep": "yes"}))


# A parameters file whose own sections set everything the run overrides, to other values: the
# shape of the bug (a `/**` override loses to a node's own section) shows up as these values.
CONTRARY = """
/**:
  ros__parameters:
    speed_limit: 1.0
dodge_sim:
  ros__parameters:
    lockstep: false
    stamped: false
    real_time_factor: 1.0
ball_spawner:
  ros__parameters:
    seed: 0
dodge_policy:
  ros__parameters:
    timesteps: 5
    units: 15
    stamped: false
dodge_recorder:
  ros__parameters:
    output_dir: "/nowhere"
    topics: [odom]
expert_shadow:
  ros__parameters:
    stamped: false
"""


def expected_parameters(params_file, spec) -> dict:
    """What rcl must give the node: its file sections merged in order, then its overrides."""
    return node_parameters(params_file, spec.name) | spec.overrides


def _contrary_opts(tmp_path, processes: bool, spawner: str = "node") -> SimOptions:
    params = tmp_path / "contrary.yaml"
    params.write_text(CONTRARY)
    return SimOptions(params_file=str(params), timesteps=8, units=20, seed=3, lockstep=True,
                      spawner=spawner, stamped=True, real_time_factor=2.0,
                      record=str(tmp_path / "bag"), label="expert", processes=processes)


@pytest.mark.parametrize("spawner", ["node", "sim"])
def test_processes_start_each_node_with_its_overrides_over_the_file(tmp_path, spawner):
    """`dodge-lstm sim --processes` (and so `ros2 launch`, which passes the same two files):
    each node's command line read back through rcl as the node process reads it."""
    opts = _contrary_opts(tmp_path, processes=True, spawner=spawner)
    cmds = node_commands(opts, tmp_path)
    specs = {s.name: s for s in graph_nodes(opts)}
    assert set(cmds) == set(specs)
    for name, spec in specs.items():
        want = expected_parameters(opts.params_path, spec)
        cmd = cmds[name]
        assert cmd[cmd.index("-m") + 1] == spec.module
        context = Context()
        rclpy.init(args=["node", *cmd[cmd.index("--ros-args"):]], context=context)
        try:
            # Constructed under the executable's own name, renamed by `__node` as launch does.
            node = Node("unnamed", context=context,
                        automatically_declare_parameters_from_overrides=True)
            try:
                assert node.get_name() == name
                got = {k: node.get_parameter(k).value for k in want}
                got = {k: list(v) if isinstance(v, (list, tuple)) else v
                       for k, v in got.items()}
                assert got == want, name
            finally:
                node.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)


def test_in_process_nodes_run_with_the_same_parameters(ros_context, tmp_path):
    """The in-process graph: the real node objects, each read back parameter by parameter."""
    opts = _contrary_opts(tmp_path, processes=False)
    specs = {s.name: s for s in graph_nodes(opts)}
    nodes = in_process_nodes(opts, ros_context, tmp_path)
    try:
        assert [n.get_name() for n in nodes] == list(specs)
        for node in nodes:
            want = expected_parameters(opts.params_path, specs[node.get_name()])
            declared = {k: v for k, v in want.items() if node.has_parameter(k)}
            got = {k: node.get_parameter(k).value for k in declared}
            got = {k: list(v) if isinstance(v, (list, tuple)) else v for k, v in got.items()}
            assert got == declared, node.get_name()
        assert nodes[0].get_parameter("lockstep").value is True
        assert nodes[1].get_parameter("seed").value == 3
    finally:
        for node in nodes:
            node.destroy_node()


class WindowProbe:
    """Records the shape of every window on `dodge/window`."""

    def __init__(self, context: Context, executor: SingleThreadedExecutor) -> None:
        self.node = rclpy.create_node("window_probe", context=context)
        self.shapes: list[tuple[int, int]] = []
        self.node.create_subscription(Float32MultiArray, "dodge/window",
                                      lambda m: self.shapes.append(msg_to_window(m).shape), 10)
        executor.add_node(self.node)


@pytest.mark.parametrize("features_first", [True, False], ids=["features-first",
                                                               "policy-first"])
def test_the_feature_window_follows_the_model_the_policy_loads(ros_context, features_first):
    """Whatever order the nodes start in, the feature node cuts the window of the model the
    policy configured with; a reconfigure with another model (`ros2 param set` + cleanup +
    configure) resizes it. Mutant caught: a feature node with its own (timesteps, slots)."""
    from dodge_lstm.ros.nodes.features_node import BallFeatures
    from dodge_lstm.ros.nodes.policy_node import DodgePolicy
    from dodge_lstm.ros.nodes.sim_node import DodgeSim

    executor = SingleThreadedExecutor(context=ros_context)
    sim = DodgeSim(context=ros_context, parameter_overrides=[
        Parameter("real_time_factor", value=4.0)])
    policy = DodgePolicy(context=ros_context, parameter_overrides=[
        Parameter("timesteps", value=3), Parameter("units", value=4)])
    nodes = [sim, policy]
    probe = WindowProbe(ros_context, executor)
    bringup = rclpy.create_node("spec_bringup", context=ros_context)
    for node in (*nodes, bringup):
        executor.add_node(node)
    lifecycle = LifecycleClient(bringup, executor, "dodge_policy")

    try:
        def start_features() -> None:
            features = BallFeatures(context=ros_context)
            nodes.append(features)
            executor.add_node(features)

        if features_first:
            start_features()
        lifecycle.get_state()
        assert lifecycle.change_state(Transition.TRANSITION_CONFIGURE)
        if not features_first:  # late joiner: the latched spec still reaches it
            start_features()

        def seen(shape) -> bool:
            return spin_until(executor, lambda: probe.shapes[-3:] == [shape] * 3, 20.0)

        assert seen((3, 8)), probe.shapes[-5:]
        policy.set_parameters([Parameter("timesteps", value=10),
                               Parameter("units", value=32)])
        assert lifecycle.change_state(Transition.TRANSITION_CLEANUP), lifecycle.get_state()
        assert lifecycle.change_state(Transition.TRANSITION_CONFIGURE)
        assert seen((10, 8)), probe.shapes[-5:]
        policy.set_parameters([Parameter("timesteps", value=0), Parameter("units", value=0)])
        assert lifecycle.change_state(Transition.TRANSITION_CLEANUP)
        assert lifecycle.change_state(Transition.TRANSITION_CONFIGURE)
        assert seen((5, 16)), probe.shapes[-5:]  # the default model: four slots
    finally:
        executor.shutdown()
        for node in (*nodes, bringup, probe.node):
            node.destroy_node()
        nodes = policy = None


def test_a_policy_that_answers_nothing_is_loud(ros_context):
    """Windows of the wrong shape, and only those, for longer than a few periods: an ERROR on
    `diagnostics` that names both shapes, and the summary's `policy_error`; a valid window
    clears it. Mutant caught: a policy that only counts rejections (zeros, silently)."""
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus

    from dodge_lstm.ros.bringup.observer import GraphObserver
    from dodge_lstm.ros.messages import window_to_msg
    from dodge_lstm.ros.nodes.policy_node import MUTE_PERIODS, DodgePolicy
    from dodge_lstm.ros.qos import WINDOW_QOS

    executor = SingleThreadedExecutor(context=ros_context)
    policy = DodgePolicy(context=ros_context)  # the default model: (5, 16)
    observer = GraphObserver(context=ros_context)
    bringup = rclpy.create_node("mute_bringup", context=ros_context)
    levels: list[tuple[int, str]] = []
    bringup.create_subscription(
        DiagnosticArray, "diagnostics",
        lambda m: levels.extend((s.level, s.message) for s in m.status
                                if s.name == "dodge_policy"), 10)
    pub = bringup.create_publisher(Float32MultiArray, "dodge/window", WINDOW_QOS)
    for node in (policy, observer, bringup):
        executor.add_node(node)
    lifecycle = LifecycleClient(bringup, executor, "dodge_policy")
    try:
        lifecycle.get_state()
        assert lifecycle.change_state(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.change_state(Transition.TRANSITION_ACTIVATE)
        wrong = window_to_msg(np.zeros((5, 8), dtype=np.float32))
        timer = bringup.create_timer(0.05, lambda: pub.publish(wrong))
        period_s = 1.0 / policy.get_parameter("rate_hz").value
        assert spin_until(executor, lambda: any(lvl == DiagnosticStatus.ERROR
                                                for lvl, _ in levels),
                          MUTE_PERIODS * period_s + 3.0), levels[-3:]
        message = next(msg for lvl, msg in levels if lvl == DiagnosticStatus.ERROR)
        assert "(5, 8)" in message and "(5, 16)" in message, message
        assert "dodge/window_spec" in message
        bringup.destroy_timer(timer)
        assert spin_until(executor, lambda: observer.policy_error is not None, 5.0)
        summary = observer.summary(period_s, 1.0, 1.0, False)
        assert summary["policy_error"] == message
        # A valid window: answered, and the status is OK again at the next report.
        placeholder = np.tile(np.array([0.0, 5.0, 0.0, 0.0], np.float32), (5, 4))
        n = len(levels)
        timer = bringup.create_timer(0.05, lambda: pub.publish(window_to_msg(placeholder)))
        assert spin_until(executor, lambda: any(lvl == DiagnosticStatus.OK
                                                for lvl, _ in levels[n:]), 5.0), levels[n:]
        bringup.destroy_timer(timer)
    finally:
        executor.shutdown()
        for node in (policy, observer, bringup):
            node.destroy_node()
        policy = None
