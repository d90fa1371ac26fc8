"""DAgger through ROS: the LSTM drives, a shadow expert answers every tick on `expert/cmd_vel`.

One real lockstep run of the in-process graph over DDS, recorded by the recorder node to a real
MCAP bag, then turned into a dataset with `label_topic="expert/cmd_vel"`. The labels are checked
against the raw messages read back independently: row t's label must be the expert message
stamped with row t-1's odom stamp. The plausible bugs: labels from the wrong topic (the LSTM's
own commands), labels shifted by a tick (the expert's answer to the same row; the helper below
rejects that), a shadow that is not recorded, or one that drives the simulator.
"""

import numpy as np
import pytest

rclpy = pytest.importorskip("rclpy")

import yaml  # noqa: E402
from rclpy.context import Context  # noqa: E402
from rclpy.node import Node  # noqa: E402

from dodge_lstm.bags.bag_dataset import recording_from_bags  # noqa: E402
from dodge_lstm.bags.rosbag_io import bag_summary, read_messages  # noqa: E402
from dodge_lstm.cli import main as cli_main  # noqa: E402
from dodge_lstm.core.dataset import Recording  # noqa: E402
from dodge_lstm.core.odometry import stamp_ns  # noqa: E402
from dodge_lstm.resources import default_params_file  # noqa: E402
from dodge_lstm.ros.bringup.graph import run_sim  # noqa: E402
from dodge_lstm.ros.bringup.options import LABEL_TOPIC, SHADOW_NODE, SimOptions  # noqa: E402
from dodge_lstm.ros.bringup.processes import node_commands  # noqa: E402
from dodge_lstm.ros.params_file import RENAMED_NODES, check_sections  # noqa: E402

pytestmark = pytest.mark.ros

STAMPED = "geometry_msgs/msg/TwistStamped"


@pytest.fixture(scope="module")
def label_run(tmp_path_factory):
    """One short lockstep run with the shadow, recorded (a few seconds of wall time)."""
    bag = tmp_path_factory.mktemp("shadow") / "bag"
    summary = run_sim(SimOptions(policy="lstm", label="expert", lockstep=True, balls=40,
                                 seed=3, record=str(bag)))
    return summary, bag


def raw_answers(bag) -> tuple[np.ndarray, dict[int, float]]:
    """Read without bag_replay: the odom stamps in stamp order, each once (a lockstep simulator
    repeats its first tick until its driver answers, and the bag starts with the graph: one row
    per tick), and the shadow's answers keyed by their header stamps."""
    odom: list[int] = []
    answers: dict[int, float] = {}
    for topic, msgtype, _recv, msg in read_messages(bag, topics=["/odom", f"/{LABEL_TOPIC}"]):
        if topic == "/odom":
            odom.append(stamp_ns(msg))
        else:
            assert msgtype == STAMPED
            answers[stamp_ns(msg)] = float(msg.twist.linear.x)
    return np.unique(np.array(odom, dtype=np.int64)), answers


def pairing_errors(commands: np.ndarray, odom_ns: np.ndarray,
                   answers: dict[int, float]) -> list[int]:
    """Rows whose label is not the expert's answer to the previous row's odom (row 0 holds 0;
    a row whose previous row got no answer keeps the previous label)."""
    bad = [] if commands[0] == 0.0 else [0]
    for t in range(1, len(commands)):
        want = answers.get(int(odom_ns[t - 1]))
        expected = commands[t - 1] if want is None else np.float32(want)
        if commands[t] != expected:
            bad.append(t)
    return bad


def test_shadow_labels_pair_with_the_previous_row_by_stamp(label_run):
    summary, bag = label_run
    assert summary["policy_state"] == "active" and summary["balls"] == 40
    assert summary["labels"] == f"expert ({SHADOW_NODE} on {LABEL_TOPIC})"
    # The shadow answered (about) every tick the observer counted, and the recorder kept it.
    ticks = round(summary["sim_seconds"] * 10)
    assert summary["label_msgs"] >= ticks - 2, summary
    counts = bag_summary(bag)
    assert counts[f"/{LABEL_TOPIC}"][0] == STAMPED and counts["/cmd_vel"][0].endswith("/Twist")
    written = summary["bag"]["topics"][f"/{LABEL_TOPIC}"]
    assert written["failed"] == 0 and written["written"] >= counts["/odom"][1] - 2

    rec = recording_from_bags([bag], label_topic=LABEL_TOPIC)
    odom_ns, answers = raw_answers(bag)
    assert rec.features.shape[0] == odom_ns.size > 300
    assert rec.meta["label_topic"] == f"/{LABEL_TOPIC}" and rec.meta["label_pairing"] == "stamp"
    # Lockstep waits for the driver only, yet the shadow misses (almost) no tick.
    missing = sum(int(odom_ns[t - 1]) not in answers for t in range(1, odom_ns.size))
    assert rec.meta["missing_labels"] == missing <= 2, rec.meta
    assert pairing_errors(rec.commands, odom_ns, answers) == []
    assert np.abs(rec.commands).max() > 0.5  # the expert did dodge something

    # The mutant: labels that answer the SAME row (a one-tick shift) fail the check.
    shifted = np.array([answers.get(int(s), 0.0) for s in odom_ns], dtype=np.float32)
    assert len(pairing_errors(shifted, odom_ns, answers)) > 0.1 * odom_ns.size

    # Not the driver's commands: the LSTM's cmd_vel differs from the expert's at most rows.
    driver = recording_from_bags([bag])
    assert driver.meta["label_topic"] == "/cmd_vel"
    assert np.mean(np.abs(driver.commands - rec.commands) > 1e-3) > 0.5


def test_dataset_cli_takes_labels_from_the_shadow_topic(label_run, tmp_path, capsys):
    _, bag = label_run
    out = tmp_path / "d.npz"
    assert cli_main(["dataset", "--bag", str(bag), "--label-topic", LABEL_TOPIC,
                     "--out", str(out)]) == 0
    back = Recording.load(out)
    odom_ns, answers = raw_answers(bag)
    assert back.meta["label_topic"] == f"/{LABEL_TOPIC}"
    assert pairing_errors(back.commands, odom_ns, answers) == []
    assert f"labels from /{LABEL_TOPIC} (by stamp" in capsys.readouterr().out

    wrong = tmp_path / "wrong.npz"
    assert cli_main(["dataset", "--bag", str(bag), "--label-topic", "teacher/cmd_vel",
                     "--out", str(wrong)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert "/teacher/cmd_vel" in lines[0] and f"/{LABEL_TOPIC}" in lines[0]
    assert "/odom" in lines[0] and not wrong.exists()

    assert cli_main(["dataset", "--label-topic", LABEL_TOPIC, "--out", str(wrong)]) == 2
    assert "--label-topic needs --bag" in capsys.readouterr().err


def test_label_needs_the_learner_driving(capsys):
    with pytest.raises(ValueError, match="needs policy lstm"):
        run_sim(SimOptions(policy="expert", label="expert"))
    with pytest.raises(ValueError, match="label must be expert"):
        run_sim(SimOptions(policy="lstm", label="teacher"))
    assert cli_main(["sim", "--policy", "expert", "--label", "expert", "--duration", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs policy lstm" in err[0]


def test_processes_give_the_shadow_and_the_recorder_their_overrides(tmp_path):
    """`--processes`: each node's overrides are a second parameters file, which wins over the
    package's (rclpy lets any parameters file beat `-p`: `output_dir:=` would be lost). Read
    back through rcl as the node processes would, with the shadow's renaming."""
    check_sections(default_params_file())  # the expert_shadow section is a known one
    assert RENAMED_NODES[SHADOW_NODE] == "expert_driver"
    bag = tmp_path / "bag"
    cmds = node_commands(SimOptions(label="expert", record=str(bag), seed=11), tmp_path)
    expected = {
        SHADOW_NODE: ("expert_driver", {"stamped": True, "use_sim_time": True}),
        "dodge_recorder": ("dodge_recorder", {
            "output_dir": str(bag),
            "topics": ["odom", "balls/odom", "balls/outcome", "cmd_vel", "markers",
                       LABEL_TOPIC]}),
        "ball_spawner": ("ball_spawner", {"seed": 11}),
        # No window parameters given: the policy picks the default model itself.
        "dodge_policy": ("dodge_policy", {"report_period": 1.0, "timesteps": 0, "units": 0}),
    }
    for name, (constructed_as, want) in expected.items():
        cmd = cmds[name]
        args = cmd[cmd.index("--ros-args"):]
        context = Context()
        rclpy.init(args=["node", *args], context=context)
        try:
            node = Node(constructed_as, context=context,
                        automatically_declare_parameters_from_overrides=True)
            try:
                assert node.get_name() == name
                got = {k: node.get_parameter(k).value for k in want}
                assert {k: list(v) if isinstance(v, (list, tuple)) else v
                        for k, v in got.items()} == want, name
            finally:
                node.destroy_node()
        finally:
            rclpy.try_shutdown(context=context)
    shadow = cmds[SHADOW_NODE]
    assert shadow[shadow.index("-m") + 1] == "dodge_lstm.ros.nodes.expert_node"
    assert "cmd_vel:=expert/cmd_vel" in shadow
    overrides = yaml.safe_load((tmp_path / f"{SHADOW_NODE}.params.yaml").read_text())
    assert overrides == {SHADOW_NODE: {"ros__parameters": {"stamped": True,
                                                           "use_sim_time": True}}}
    assert SHADOW_NODE not in node_commands(SimOptions(record=str(bag)), tmp_path)
