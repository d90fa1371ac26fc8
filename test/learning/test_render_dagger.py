"""Episode GIFs, and the DAgger loop end to end on a tiny budget."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dodge_lstm.cli import main as cli_main
from dodge_lstm.core.baselines import StationaryPolicy
from dodge_lstm.core.dataset import Recording, record_expert
from dodge_lstm.core.episode_trace import trace_episode
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.viz.episode_gif import render_gif

REPO = Path(__file__).resolve().parents[2]


def test_trace_counts_match_a_still_robot():
    tr = trace_episode(StationaryPolicy(), 6.0, seed=2)
    assert len(tr.robot) == 60
    _, hits, balls = tr.resolved[-1]
    assert balls > 0 and hits == len(tr.hits)
    assert np.allclose(np.array(tr.robot), 0.0)  # it never moved


def test_render_gif_has_a_frame_per_tick(tmp_path):
    tr = trace_episode(ExpertPolicy(), 3.0, seed=1)
    out = render_gif(tr, tmp_path / "e.gif", "expert")
    with Image.open(out) as im:
        assert im.n_frames == 30
        assert im.size[0] > 200


def test_render_gif_leaves_the_global_backend_alone(tmp_path):
    # Figure + Agg canvas only: no pyplot import, no matplotlib.use() in the caller's process.
    code = (
        "import sys, matplotlib\n"
        "from dodge_lstm.core.baselines import StationaryPolicy\n"
        "from dodge_lstm.core.episode_trace import trace_episode\n"
        "from dodge_lstm.viz.episode_gif import render_gif\n"
        "before = matplotlib.rcParams['backend']\n"
        f"render_gif(trace_episode(StationaryPolicy(), 1.0, seed=1), {str(tmp_path / 'g.gif')!r},"
        " 'still')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert matplotlib.rcParams['backend'] == before\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), MPLBACKEND="svg")
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert (tmp_path / "g.gif").stat().st_size > 0


def test_render_cli(tmp_path, capsys):
    assert cli_main(["render", "--policy", "stationary", "--seconds", "2", "--out",
                     str(tmp_path / "s.gif")]) == 0
    assert (tmp_path / "s.gif").stat().st_size > 1000
    assert "balls" in capsys.readouterr().out


def test_render_with_sensing_draws_the_reports_and_drives_on_the_tracks(tmp_path, capsys):
    """`render --sensing realistic`: the trace keeps each frame's report (noisy, late, with
    clutter) and the tracks, and the expert drives on the tracks (its episode differs from the
    one on ground truth). Plausible bug: the flag parsed and dropped, a GIF of ground truth."""
    from dodge_lstm.core.sensing import PRESETS

    truth = trace_episode(ExpertPolicy(), 8.0, seed=3)
    sensed = trace_episode(ExpertPolicy(), 8.0, seed=3, sensing=PRESETS["realistic"])
    assert not truth.detections and len(sensed.detections) == len(sensed.tracks) == 80
    assert len(sensed.detections[0]) == 0  # the report of tick 0 comes 0.1 s later
    assert sum(len(d) for d in sensed.detections) > 40 and any(len(t) for t in sensed.tracks)
    balls = [b[~np.isnan(b[:, 0])] for b in sensed.balls]
    # A report is not where the balls are now: it is noisy and 0.1 s old.
    errors = [np.min(np.linalg.norm(d[:, None] - b[None], axis=-1), axis=1)
              for d, b in zip(sensed.detections, balls, strict=True) if len(d) and len(b)]
    assert np.median(np.concatenate(errors)) > 0.05
    assert sensed.commands != truth.commands
    assert cli_main(["render", "--sensing", "realistic", "--seconds", "2", "--out",
                     str(tmp_path / "s.gif")]) == 0
    with Image.open(tmp_path / "s.gif") as im:
        assert im.n_frames == 20


def test_dagger_records_learner_states_with_expert_labels():
    # A driver that never moves visits other states than the expert, same seed, same balls;
    # the labels must still be the expert's ("move"), not the driver's zeros.
    dagger = record_expert(4, seed=3, episode_s=6.0, driver=StationaryPolicy())
    expert = record_expert(4, seed=3, episode_s=6.0)
    assert dagger.meta["source"] == "arena-dagger" and expert.meta["source"] == "arena-expert"
    assert np.abs(dagger.commands).max() > 0.5
    # Same start, then the states part ways once the expert starts to dodge.
    np.testing.assert_array_equal(dagger.features[:5], expert.features[:5])
    assert not np.allclose(dagger.features, expert.features)
    # With the robot still, relative velocities are the balls' own: |v| <= 5 m/s exactly,
    # while an expert-driven robot adds its own speed to some of them.
    speed = np.hypot(dagger.features[:, 2], dagger.features[:, 3])
    assert speed.max() <= 5.0 + 1e-4


@pytest.mark.tensorflow
def test_dagger_loop_exports_the_best_round(tmp_path):
    pytest.importorskip("tensorflow")
    data = record_expert(6, seed=1, episode_s=6.0).save(tmp_path / "d.npz")
    export = tmp_path / "models" / "lstm_t3_u4.tflite"
    assert cli_main(["dagger", "--data", str(data), "--rounds", "1", "--episodes", "4",
                     "--timesteps", "3", "--units", "4", "--epochs", "2", "--out",
                     str(tmp_path / "dg"), "--export", str(export)]) == 0
    summary = json.loads((tmp_path / "dg" / "dagger.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == [0, 1]
    assert summary["rounds"][1]["dataset_rows"] > summary["rounds"][0]["dataset_rows"]
    meta = json.loads(export.with_suffix(".json").read_text())
    assert export.is_file() and meta["timesteps"] == 3 and meta["dagger"]["rounds"] == 1


@pytest.mark.tensorflow
def test_dagger_seeds_run_as_ray_tasks_and_export_the_best(tmp_path):
    """Two seeds, each a whole DAgger chain in a Ray worker process; the export is the best
    round over both by the selection evaluation (not the last seed, not round 0 by default)."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("ray")
    data = record_expert(6, seed=1, episode_s=6.0).save(tmp_path / "d.npz")
    export = tmp_path / "models" / "best.tflite"
    assert cli_main(["dagger", "--data", str(data), "--rounds", "1", "--episodes", "4",
                     "--timesteps", "3", "--units", "4", "--epochs", "1", "--seeds", "3,4",
                     "--num-cpus", "2", "--out", str(tmp_path / "dg"),
                     "--export", str(export)]) == 0
    summary = json.loads((tmp_path / "dg" / "dagger_seeds.json").read_text())
    assert set(summary["seeds"]) == {"3", "4"}
    for seed in (3, 4):
        per_seed = json.loads((tmp_path / "dg" / f"seed_{seed}" / "dagger.json").read_text())
        assert per_seed["seed"] == seed and per_seed["train_config"]["seed"] == seed
    rounds = [r for rs in summary["seeds"].values() for r in rs]
    best = max(rounds, key=lambda r: r["selection_threat_dodge_rate"])
    assert summary["best"]["model"] == best["model"]
    assert export.read_bytes() == Path(best["model"]).read_bytes()
    assert json.loads(export.with_suffix(".json").read_text())["dagger"]["seed"] == \
        summary["best"]["seed"]
    # The seeds were applied: their DAgger episodes differ.
    a = np.load(tmp_path / "dg" / "seed_3" / "round_1" / "data.npz")["features"]
    b = np.load(tmp_path / "dg" / "seed_4" / "round_1" / "data.npz")["features"]
    assert a.shape == b.shape and not np.array_equal(a, b)


@pytest.mark.tensorflow
def test_dagger_continues_from_a_start_model(tmp_path):
    """`--start-model`: round 0 is the given model (scored, not retrained) and it drives the
    first DAgger round; a model of the wrong shape is refused before anything runs."""
    pytest.importorskip("tensorflow")
    data = record_expert(6, seed=1, episode_s=6.0).save(tmp_path / "d.npz")
    first = tmp_path / "first"
    assert cli_main(["dagger", "--data", str(data), "--rounds", "0", "--timesteps", "3",
                     "--units", "4", "--epochs", "1", "--out", str(first)]) == 0
    start = first / "round_0" / "model.tflite"
    out = tmp_path / "more"
    assert cli_main(["dagger", "--data", str(data), "--start-model", str(start), "--rounds",
                     "1", "--episodes", "4", "--timesteps", "3", "--units", "4", "--epochs",
                     "1", "--out", str(out)]) == 0
    summary = json.loads((out / "dagger.json").read_text())
    r0, r1 = summary["rounds"]
    assert r0["model"] == str(start) and r0["train_seconds"] == 0.0
    assert not (out / "round_0" / "model.keras").exists()  # not retrained
    assert r1["dataset_rows"] > r0["dataset_rows"] and (out / "round_1" / "model.tflite").exists()
    assert cli_main(["dagger", "--data", str(data), "--start-model", str(start), "--rounds",
                     "1", "--timesteps", "5", "--out", str(tmp_path / "bad")]) == 2


@pytest.mark.tensorflow
def test_dagger_rounds_are_labelled_by_the_chosen_teacher(tmp_path):
    """`dagger --sensing realistic --teacher tracker`: every DAgger round is recorded with that
    teacher, and the model and `dagger.json` say so. Plausible bug: the flag reaches round 0's
    data only, so later rounds are labelled by the truth behind the user's back."""
    pytest.importorskip("tensorflow")
    from dodge_lstm.core.sensing import PRESETS

    data = record_expert(6, seed=1, episode_s=6.0, sensing=PRESETS["realistic"],
                         teacher="tracker").save(tmp_path / "d.npz")
    out = tmp_path / "dg"
    assert cli_main(["dagger", "--data", str(data), "--rounds", "1", "--episodes", "4",
                     "--timesteps", "3", "--units", "4", "--epochs", "1", "--sensing",
                     "realistic", "--teacher", "tracker", "--out", str(out)]) == 0
    parts = Recording.load(out / "round_1" / "data.npz").meta["parts"]
    assert [p["teacher"] for p in parts] == ["tracker", "tracker"]
    assert [p["driver"] for p in parts][1] is not None  # the learner drove round 1
    meta = json.loads((out / "round_1" / "model.json").read_text())
    assert (meta["teacher"], meta["tracker"], meta["sensing"]) == ("tracker", "kf", "realistic")
    summary = json.loads((out / "dagger.json").read_text())
    assert (summary["teacher"], summary["tracker"]) == ("tracker", "kf")
