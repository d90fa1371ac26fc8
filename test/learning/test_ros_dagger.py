"""DAgger through the real ROS graph: round 0 from a recorded bag of the expert driving, round 1
from a bag of the model driving with the expert labelling in shadow, both imported from disk."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.tensorflow]


def test_a_short_ros_dagger_round_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("rclpy")
    from dodge_lstm.bags.rosbag_io import bag_summary
    from dodge_lstm.core.dataset import Recording
    from dodge_lstm.learning.ros_dagger import run_ros_dagger
    from dodge_lstm.learning.train_config import TrainConfig
    from dodge_lstm.runtime.tflite_policy import TFLitePolicy

    cfg = TrainConfig(timesteps=3, units=4, epochs=2, batch_size=64, segment_seconds=10.0)
    results = run_ros_dagger(out_dir=tmp_path, config=cfg, rounds=1, minutes=0.5,
                             initial_minutes=0.5, seed=3, balls=40, compare_arena=True,
                             progress=False)
    ros = [r for r in results if r.loop == "ros"]
    arena = [r for r in results if r.loop == "arena"]
    assert [r.minutes for r in ros] == [0.5, 1.0] and [r.minutes for r in arena] == [0.5, 1.0]

    # Real bags on disk: round 0 the expert drove (cmd_vel), round 1 the model drove while the
    # expert answered on expert/cmd_vel.
    bag0 = bag_summary(tmp_path / "ros" / "round_0" / "bag")
    bag1 = bag_summary(tmp_path / "ros" / "round_1" / "bag")
    assert bag0["/cmd_vel"][1] > 250 and "/expert/cmd_vel" not in bag0  # 30 s at 10 Hz
    assert bag1["/expert/cmd_vel"][0] == "geometry_msgs/msg/TwistStamped"
    assert abs(bag1["/expert/cmd_vel"][1] - bag1["/odom"][1]) <= 2  # one answer per tick
    assert bag1["/cmd_vel"][1] > 250

    # Round 1's dataset aggregates both rounds (mirrored), and grew by round 1's rows.
    d0 = Recording.load(tmp_path / "ros" / "round_0" / "data.npz")
    d1 = Recording.load(tmp_path / "ros" / "round_1" / "data.npz")
    assert d1.features.shape[0] > d0.features.shape[0] * 1.8
    np.testing.assert_array_equal(d1.features[: d0.features.shape[0] // 2],
                                  d0.features[: d0.features.shape[0] // 2])
    assert d1.meta["parts"][1]["label_topic"] == "/expert/cmd_vel"
    assert d1.meta["parts"][0]["label_topic"] == "/cmd_vel"

    # Each round's model is a real TFLite file the runtime loads; round 1's drove the graph.
    for r in results:
        assert TFLitePolicy(r.model).timesteps == 3
    summary = json.loads((tmp_path / "ros_dagger.json").read_text())
    assert len(summary["rounds"]) == 4 and summary["train_config"]["units"] == 4
    assert (tmp_path / "dagger_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_ros_dagger_through_a_detector_labels_from_the_truth(tmp_path: Path) -> None:
    """`dagger --through-ros --sensing realistic`: round 0's expert drives on the truth while
    the detector reports, round 1's model drives on its tracked detections with the shadow
    expert labelling; both bags are imported through the detections and the models are scored
    through the same sensing. Plausible bugs: rows imported from ground truth (train/serve
    skew), a model without its tracker in its metadata, scores taken on ground truth."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("rclpy")
    from dodge_lstm.bags.bag_dataset import recording_from_bags
    from dodge_lstm.bags.rosbag_io import bag_summary
    from dodge_lstm.core.dataset import Recording
    from dodge_lstm.learning.ros_dagger import GraphSensing, run_ros_dagger
    from dodge_lstm.learning.train_config import TrainConfig
    from dodge_lstm.runtime.model_metadata import metadata_path_for

    cfg = TrainConfig(timesteps=3, units=4, epochs=1, batch_size=64, segment_seconds=10.0)
    sensing = GraphSensing("realistic", (("noise_std", 0.04),), "kf")
    assert sensing.sim_args() == ["--sensing", "realistic", "--tracker", "kf",
                                  "--noise-std", "0.04"]
    results = run_ros_dagger(out_dir=tmp_path, config=cfg, rounds=1, minutes=0.3,
                             initial_minutes=0.3, seed=4, balls=40, progress=False,
                             sensing=sensing)
    assert [r.round for r in results] == [0, 1]
    bags = [tmp_path / "ros" / f"round_{r}" / "bag" for r in (0, 1)]
    summaries = [bag_summary(b) for b in bags]
    assert all(s["/balls/detections"][1] > 150 for s in summaries)
    assert "/expert/cmd_vel" not in summaries[0] and summaries[1]["/expert/cmd_vel"][1] > 150

    d1 = Recording.load(tmp_path / "ros" / "round_1" / "data.npz")
    assert [p["tracker"] for p in d1.meta["parts"]] == ["kf", "kf"]
    assert d1.meta["parts"][0]["sensing"] == "noise_std=0.04, latency=0.1, miss=0.1, " \
        "false_rate=0.05, range=8"
    truth0 = recording_from_bags([bags[0]])  # the same bag's ground-truth rows
    d0 = Recording.load(tmp_path / "ros" / "round_0" / "data.npz")
    n = min(len(truth0.features), len(d0.features) // 2)
    assert np.mean(np.abs(truth0.features[:n] - d0.features[:n]) > 1e-3) > 0.1
    meta = json.loads(metadata_path_for(Path(results[1].model)).read_text())
    assert meta["tracker"] == "kf"
    summary = json.loads((tmp_path / "ros_dagger.json").read_text())
    assert summary["tracker"] == "kf" and summary["sensing"].startswith("noise_std=0.04")
    # Scored through the detector: the expert's ceiling there is below its 100% on the truth.
    assert summary["expert_threat_dodge_rate"] < 1.0
