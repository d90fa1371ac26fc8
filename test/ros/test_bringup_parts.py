"""Parts of the launch-free bringup: reading the parameters file, the lifecycle client."""

import pytest

pytest.importorskip("rclpy")

from lifecycle_msgs.msg import Transition
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.node import Node

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.resources import default_params_file
from dodge_lstm.ros.bringup.graph import control_period
from dodge_lstm.ros.bringup.lifecycle_client import LifecycleClient
from dodge_lstm.ros.params_file import node_parameters

pytestmark = pytest.mark.ros


def test_control_period_comes_from_the_params_file(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text("dodge_sim:\n  ros__parameters:\n    control_rate_hz: 20\n")
    assert control_period(params) == pytest.approx(0.05)
    params.write_text("/dodge_sim:\n  ros__parameters:\n    control_rate_hz: 20.0\n")
    assert control_period(params) == pytest.approx(0.05)
    # Left out (or no section for the node at all): the node runs on its default, so do we.
    params.write_text("dodge_sim:\n  ros__parameters:\n    substeps: 1\n")
    assert control_period(params) == pytest.approx(1.0 / ArenaConfig().control_rate_hz)
    params.write_text("ball_spawner:\n  ros__parameters:\n    seed: 3\n")
    assert node_parameters(params, "dodge_sim") == {}
    assert node_parameters(params, "ball_spawner") == {"seed": 3}
    assert control_period(default_params_file()) == pytest.approx(0.1)


def test_the_wildcard_section_applies_under_the_nodes_own(tmp_path):
    """rcl applies `/**` to every node, merged with the node's own section in file order: so do
    we, or a rate set once for all nodes would silently fall back to the default period here."""
    params = tmp_path / "params.yaml"
    params.write_text("/**:\n  ros__parameters:\n    control_rate_hz: 20.0\n    substeps: 2\n")
    assert control_period(params) == pytest.approx(0.05)
    params.write_text("/**:\n  ros__parameters:\n    control_rate_hz: 20.0\n    substeps: 2\n"
                      "dodge_sim:\n  ros__parameters:\n    control_rate_hz: 40.0\n")
    assert control_period(params) == pytest.approx(0.025)
    assert node_parameters(params, "dodge_sim") == {"control_rate_hz": 40.0, "substeps": 2}
    # Order matters to rcl (a later section wins), so it does here.
    params.write_text("dodge_sim:\n  ros__parameters:\n    control_rate_hz: 40.0\n"
                      "/**:\n  ros__parameters:\n    control_rate_hz: 20.0\n")
    assert control_period(params) == pytest.approx(0.05)


@pytest.mark.parametrize(("text", "message"), [
    ("- dodge_sim\n- ball_spawner\n", "not a mapping of node names"),
    ("", "not a mapping of node names"),
    ("dodge_sim: [unclosed\n", "not valid YAML"),
    ("dodge_sim:\n  control_rate_hz: 20\n", "'ros__parameters' mapping"),
    ("dodge_sim:\n  ros__parameters: 20\n", "'ros__parameters' mapping"),
])
def test_a_file_that_is_no_params_file_is_a_clear_error(tmp_path, text, message):
    params = tmp_path / "params.yaml"
    params.write_text(text)
    with pytest.raises(ValueError, match=message) as err:
        control_period(params)
    assert str(params) in str(err.value)


def test_lifecycle_client_drives_a_real_lifecycle_node(ros_context):
    target = LifecycleNode("lc_target", context=ros_context)
    driver = Node("lc_driver", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    for node in (target, driver):
        executor.add_node(node)
    try:
        client = LifecycleClient(driver, executor, "lc_target")
        assert client.get_state() == "unconfigured"
        assert client.change_state(Transition.TRANSITION_CONFIGURE)
        assert client.get_state() == "inactive"
        assert not client.change_state(Transition.TRANSITION_DEACTIVATE)  # not active: refused
        assert client.get_state() == "inactive"

        missing = LifecycleClient(driver, executor, "nobody_here", timeout_s=0.3)
        with pytest.raises(RuntimeError, match=r"nobody_here/get_state did not come up"):
            missing.get_state()
    finally:
        executor.shutdown()
        target.destroy_node()
        driver.destroy_node()


def test_graph_node_names_are_the_nodes_own():
    """`check_sections` refuses sections for nodes not in GRAPH_NODES: the list must be exactly
    the names the node classes give themselves, or a valid file would be refused (or a typo
    in a new node's section accepted)."""
    import ast
    from pathlib import Path

    import dodge_lstm.ros.nodes as nodes_pkg
    from dodge_lstm.ros.params_file import GRAPH_NODES

    names = set()
    for module in Path(nodes_pkg.__file__).parent.glob("*_node.py"):
        for call in ast.walk(ast.parse(module.read_text())):
            if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "__init__" and call.args
                    and isinstance(call.args[0], ast.Constant)):
                names.add(call.args[0].value)
    assert names == set(GRAPH_NODES)


def test_sim_scenario_flags_reach_the_spawner(ros_context, tmp_path):
    """`sim --scenario fast --num-balls 3` changes the spawner (in-process and in the
    `--processes` parameters file) and nothing else. (The window follows the policy's model:
    `test_one_source.py`.)"""
    import yaml

    from dodge_lstm.cli import build_parser
    from dodge_lstm.cli_sim import sim_options
    from dodge_lstm.ros.bringup.graph import in_process_nodes
    from dodge_lstm.ros.bringup.processes import node_commands

    opts = sim_options(build_parser().parse_args(
        ["sim", "--scenario", "fast", "--num-balls", "3"]))
    assert opts.spawn == {"num_balls": 3, "speed_min": 5.0, "speed_max": 7.0}
    assert sim_options(build_parser().parse_args(["sim"])).spawn == {}  # the file's stand
    nodes = in_process_nodes(opts, ros_context, tmp_path)
    try:
        by_name = {n.get_name(): n for n in nodes}
        spawner = by_name["ball_spawner"]
        assert (spawner.cfg.num_balls, spawner.cfg.speed_min, spawner.cfg.speed_max) == \
            (3, 5.0, 7.0)
    finally:
        for n in nodes:
            n.destroy_node()
    node_commands(opts, tmp_path)
    spawner_file = yaml.safe_load((tmp_path / "ball_spawner.params.yaml").read_text())
    assert spawner_file["ball_spawner"]["ros__parameters"] == {
        "num_balls": 3, "speed_min": 5.0, "speed_max": 7.0}
    assert not (tmp_path / "ball_features.params.yaml").exists()  # nothing to override


CHILD = """
import signal, sys, time
log = open(sys.argv[1], "a")
def on_int(*_):
    log.write(f"{sys.argv[2]} sigint {time.monotonic()}\\n"); log.flush()
    time.sleep(0.3)  # its last words
    log.write(f"{sys.argv[2]} exit {time.monotonic()}\\n"); log.flush()
    sys.exit(0)
signal.signal(signal.SIGINT, on_int if sys.argv[2] != "dodge_markers" else signal.SIG_IGN)
print("ready", flush=True)
while True:
    time.sleep(1)
"""


def test_processes_stop_one_at_a_time_the_recorder_last_and_a_hung_one_is_killed(tmp_path):
    """All-at-once Ctrl-C (as ros2 launch) sometimes deadlocks a node in Fast DDS participant
    deletion; `NodeProcesses.stop` Ctrl-Cs a node only once the one before has exited. Plain
    Python children stand in for the nodes (the deadlock itself is rare: bench_shutdown.py
    counts it); `dodge_markers` ignores Ctrl-C, as a hung node would, and must be killed
    without holding up the others for more than the timeout."""
    import itertools
    import subprocess
    import sys

    from dodge_lstm.ros.bringup.processes import NodeProcesses

    script = tmp_path / "child.py"
    script.write_text(CHILD)
    log = tmp_path / "events.log"
    names = ["dodge_sim", "ball_spawner", "dodge_policy", "dodge_markers", "dodge_recorder"]
    procs = NodeProcesses({n: [sys.executable, str(script), str(log), n] for n in names},
                          tmp_path)
    procs.procs = {n: subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
                   for n, cmd in procs.commands.items()}
    for proc in procs.procs.values():
        assert proc.stdout.readline().strip() == "ready"  # its handler is in place
    codes = procs.stop(timeout_s=1.0)
    assert list(codes) == names  # keyed in start order, whatever the stop order
    assert codes["dodge_markers"] == -9 and all(
        codes[n] == 0 for n in names if n != "dodge_markers")
    events = [line.split() for line in log.read_text().splitlines()]
    stopped = [name for name, what, _ in events if what == "sigint"]
    assert stopped == ["dodge_policy", "ball_spawner", "dodge_sim", "dodge_recorder"]
    times = {(name, what): float(t) for name, what, t in events}
    for before, after in itertools.pairwise(stopped):
        assert times[(after, "sigint")] >= times[(before, "exit")], (before, after)
    assert procs.stop(timeout_s=1.0) == codes  # safe to call again
