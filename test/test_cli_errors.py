"""Bad input to `dodge-lstm`: a clear one-line error naming what is wrong, exit code 2, and
nothing written. Each case was found by trying it; before, most ended in a traceback (or, for
`--episodes 0`, in an empty dataset with NaN statistics written to disk).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dodge_lstm.cli import main

REPO = Path(__file__).resolve().parents[1]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Exit code and stderr of `dodge-lstm argv` (argparse errors exit through SystemExit)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("argv", "says"), [
    (["eval", "--arenas", "0"], "argument --arenas: must be >= 1, got 0"),
    (["eval", "--balls", "-5"], "argument --balls: must be >= 1, got -5"),
    (["eval", "--num-balls", "0"], "argument --num-balls: must be >= 1"),
    (["eval", "--timesteps", "five"], "argument --timesteps: expected a whole number"),
    (["sweep", "--data", str(REPO / "README.md"), "--timesteps", "5,a", "--out", "x"],
     "argument --timesteps: expected comma-separated whole numbers like 1,3,5, got '5,a'"),
    (["sweep", "--data", str(REPO / "README.md"), "--units", "0,4", "--out", "x"],
     "argument --units: expected whole numbers >= 1"),
    (["render", "--seconds", "nan", "--out", "x.gif"], "argument --seconds: must be a finite"),
    (["sim", "--real-time-factor", "0"], "argument --real-time-factor: must be a finite"),
    (["train", "--data", "no/such.npz", "--out", "x"], "argument --data: no such file"),
    (["eval", "--noise-std", "-0.1"], "sensing noise_std must be >= 0, got -0.1"),
    (["eval", "--sensing", "realistic", "--miss", "1.5"], "sensing miss must be in [0, 1)"),
    (["eval", "--fov", "0"], "sensing fov must be in (0, 360], got 0.0"),
    (["dataset", "--bag", "b", "--sensing", "realistic", "--out", "d.npz"],
     "--sensing applies to arena recordings"),
    (["render", "--bag", "b", "--miss", "0.2", "--out", "r.gif"],
     "--sensing applies to simulated episodes"),
    (["dagger", "--through-ros", "--sensing", "realistic", "--teacher", "tracker", "--out",
      "o"], "--through-ros labels with the shadow expert"),
    (["dataset", "--bag", "b", "--teacher", "tracker", "--out", "d.npz"],
     "--teacher applies to arena recordings"),
    (["eval", "--sensing", "realistic", "--write-scores", "--policy",
      str(REPO / "models" / "default.tflite")], "--write-scores records truth-sensing rates"),
])
def test_bad_flags_are_refused_naming_the_flag(capsys, tmp_path, monkeypatch, argv, says):
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, *argv)
    assert code == 2 and says in _one_line_error(err), err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_episodes_zero_writes_nothing(capsys, tmp_path):
    out = tmp_path / "d.npz"
    code, err = _run(capsys, "dataset", "--episodes", "0", "--out", str(out))
    assert code == 2 and "argument --episodes: must be >= 1, got 0" in _one_line_error(err)
    assert not out.exists()


@pytest.mark.parametrize("command", [["dataset", "--episodes", "1", "--episode-seconds", "1"],
                                     ["render", "--seconds", "1"]])
def test_out_naming_a_directory_is_refused_before_any_work(capsys, tmp_path, command):
    code, err = _run(capsys, *command, "--out", str(tmp_path))
    assert code == 2 and f"argument --out: {tmp_path} is a directory" in _one_line_error(err)
    assert list(tmp_path.iterdir()) == []


def test_data_that_is_not_a_dataset_is_named(capsys, tmp_path):
    """A non-npz file used to surface as numpy's 'contains pickled (object) data'."""
    text = tmp_path / "notes.npz"
    text.write_text("not an archive\n")
    np.save(tmp_path / "array.npy", np.zeros(3))
    from dodge_lstm.core.dataset import Recording

    for bad in (text, tmp_path / "array.npy"):
        with pytest.raises(ValueError, match="is not a dodge_lstm dataset"):
            Recording.load(bad)
    code, err = _run(capsys, "convert", str(tmp_path), "--out", str(tmp_path / "m.tflite"),
                     "--data", str(text))
    assert code == 2 and "error" in _one_line_error(err)
    assert not (tmp_path / "m.tflite").exists()


def test_policy_errors_speak_of_the_flag_not_only_the_node_parameter(capsys, tmp_path):
    code, err = _run(capsys, "eval", "--policy", str(tmp_path / "nope.tflite"), "--balls", "10")
    line = _one_line_error(err)
    assert code == 2 and "nope.tflite does not exist" in line and "--policy" in line
    code, err = _run(capsys, "eval", "--policy", str(REPO / "models" / "lstm_t5_u15.tflite"),
                     "--timesteps", "3", "--balls", "10")
    line = _one_line_error(err)
    assert code == 2 and "set timesteps to 5" in line and "--timesteps" in line


def test_truncated_and_corrupt_bags_are_named(capsys, tmp_path):
    pytest.importorskip("rosbags")
    from arena_bags import record_arena, write_rosbags

    bag = write_rosbags(record_arena(30), tmp_path / "bag")
    (mcap,) = bag.glob("*.mcap")
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "metadata.yaml").write_bytes((bag / "metadata.yaml").read_bytes())
    (truncated / mcap.name).write_bytes(mcap.read_bytes()[: mcap.stat().st_size // 2])
    junk = tmp_path / "junk.mcap"
    junk.write_bytes(bytes(range(256)) * 8)
    out = tmp_path / "d.npz"
    for bad, says in ((truncated, "was never closed"), (junk, "not a rosbag2 bag"),
                      (tmp_path / "missing", "does not exist")):
        code, err = _run(capsys, "dataset", "--bag", str(bad), "--out", str(out))
        line = _one_line_error(err)
        assert code == 2 and str(bad) in line and says in line, line
        assert not out.exists()


@pytest.mark.ros
@pytest.mark.parametrize(("yaml_text", "says"), [
    ("ball_spawner:\n  ros__parameters:\n    num_balls: two\n",
     "'num_balls' to 'two' of type 'STRING', expecting type 'INTEGER'"),
    ("dodge_simm:\n  ros__parameters:\n    substeps: 2\n",
     "sections for unknown nodes ['dodge_simm']"),
    ("dodge_sim: [1, 2\n", "is not valid YAML"),
])
def test_bad_params_file_is_refused_before_the_graph_runs(tmp_path, yaml_text, says):
    """Through the console script, as a user runs it: exit 2, one line, no bag."""
    pytest.importorskip("rclpy")
    params = tmp_path / "params.yaml"
    params.write_text(yaml_text)
    bag = tmp_path / "bag"
    out = subprocess.run(
        [sys.executable, "-m", "dodge_lstm.cli", "sim", "--duration", "2", "--params-file",
         str(params), "--record", str(bag)],
        capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 2, out.stderr
    assert says in _one_line_error(out.stderr)
    assert not bag.exists()
