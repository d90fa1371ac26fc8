"""One recorded bag trains with no extra flags: the bug was "need at least 2 episodes to split
by episode … use eval_fraction=0", an option the CLI did not have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.tensorflow]


def test_one_bag_from_the_graph_trains_without_flags(tmp_path: Path, capsys) -> None:
    pytest.importorskip("tensorflow")
    pytest.importorskip("rclpy")
    from dodge_lstm.cli import main as cli_main
    from dodge_lstm.core.dataset import Recording

    # 75 simulated seconds of the expert driving the real graph, in lockstep: one bag.
    assert cli_main(["sim", "--policy", "expert", "--lockstep", "--duration", "75",
                     "--record", str(tmp_path / "bag"), "--json"]) == 0
    assert cli_main(["dataset", "--bag", str(tmp_path / "bag"), "--mirror", "--out",
                     str(tmp_path / "d.npz")]) == 0
    rec = Recording.load(tmp_path / "d.npz")
    assert len(set(rec.origin.tolist())) == 1  # one bag: one episode and its mirror twin
    capsys.readouterr()
    # Only what a model needs: no split flags.
    assert cli_main(["train", "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "m"),
                     "--units", "4", "--epochs", "2"]) == 0
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["split_groups"] == 3  # 75 s in 30 s segments, each with its twin
    assert meta["eval_windows"] > 0 and meta["eval_loss"] is not None
    assert "eval loss n/a" not in capsys.readouterr().out
