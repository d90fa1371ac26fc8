"""Sensing (issue 16): the detector model, the tracker, and a policy scored through both.

Plausible bugs each test is there for: detections rotated the wrong way (world() not the
inverse of the robot frame), noise on one axis or of the wrong size, a latency one tick off,
misses/clutter/field of view/range ignored, a tracker that reports where a ball was (latency not
predicted away) or reports clutter, ids swapped where two balls cross, a `--sensing` flag that
changes nothing, bad knob values accepted.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dodge_lstm.core.sensing import PRESETS, Detections, Sensor, SensorConfig, sensor_config

pytest.importorskip("scipy")

from dodge_lstm.core.tracking import BallTrackerCV, TrackerConfig

DT = 0.1


def one_ball(pos, robot=(0.0, 0.0), yaw=0.0, batch=1):
    """Arrays for `Sensor.capture`: B arenas, one live ball each."""
    return (np.tile(np.array(robot, float), (batch, 1)), np.full(batch, yaw),
            np.tile(np.array(pos, float), (batch, 1, 1)), np.ones((batch, 1), dtype=bool))


# -- the detector -------------------------------------------------------------------------------

def test_presets_and_bad_knobs():
    assert PRESETS["truth"].is_truth and not PRESETS["realistic"].is_truth
    r = PRESETS["realistic"]
    assert (r.noise_std, r.latency, r.miss, r.false_rate, r.fov, r.range) == \
        (0.05, 0.1, 0.1, 0.05, 360.0, 8.0)
    assert sensor_config("realistic", noise_std=0.02).noise_std == 0.02
    for bad in ({"noise_std": -0.01}, {"miss": 1.5}, {"miss": 1.0}, {"fov": 0.0},
                {"fov": 400.0}, {"range": 0.0}, {"latency": -0.1}, {"false_rate": math.nan}):
        with pytest.raises(ValueError, match="sensing") as err:
            SensorConfig(**bad)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="truth, realistic"):
        sensor_config("perfect")


def test_a_perfect_detector_reports_the_truth_in_the_robot_frame():
    sensor = Sensor(1, SensorConfig(), DT)
    robot, yaw = (1.0, 2.0), math.pi / 2  # facing +y
    det = sensor.capture(0, *one_ball((1.0, 5.0), robot, yaw))
    assert det.mask[0, 0] and not det.mask[0, 1:].any()
    np.testing.assert_allclose(det.pos[0, 0], [3.0, 0.0], atol=1e-12)  # 3 m straight ahead
    np.testing.assert_allclose(det.world()[0, 0], [1.0, 5.0], atol=1e-12)


def test_noise_is_gaussian_per_axis_and_grows_with_range():
    batch = 20000
    sensor = Sensor(batch, SensorConfig(noise_std=0.05, noise_per_m=0.01), DT, seed=3)
    det = sensor.capture(0, *one_ball((4.0, 0.0), batch=batch))
    err = det.pos[:, 0] - [4.0, 0.0]
    sigma = 0.05 + 0.01 * 4.0
    np.testing.assert_allclose(err.std(axis=0), [sigma, sigma], rtol=0.03)
    np.testing.assert_allclose(err.mean(axis=0), [0.0, 0.0], atol=0.003)


def test_latency_delivers_the_capture_of_that_many_ticks_ago():
    sensor = Sensor(1, SensorConfig(latency=0.3), DT)
    assert sensor.delay == 3
    out = [sensor.step(t, *one_ball((5.0 - 0.4 * t, 0.0), robot=(0.1 * t, 0.0)))
           for t in range(6)]
    assert out[:3] == [None, None, None]
    for t in range(3, 6):
        det = out[t]
        assert det.tick == t - 3
        np.testing.assert_allclose(det.world()[0, 0], [5.0 - 0.4 * (t - 3), 0.0], atol=1e-12)
        np.testing.assert_allclose(det.robot_pos[0], [0.1 * (t - 3), 0.0], atol=1e-12)


def test_misses_clutter_field_of_view_and_range():
    batch = 20000
    miss = Sensor(batch, SensorConfig(miss=0.3), DT, seed=1).capture(0, *one_ball(
        (3.0, 0.0), batch=batch))
    assert miss.mask[:, 0].mean() == pytest.approx(0.7, abs=0.01)
    clutter = Sensor(batch, SensorConfig(false_rate=0.5, fov=90.0, range=6.0), DT, seed=2)
    det = clutter.capture(0, *one_ball((3.0, 0.0), batch=batch))
    false = det.mask[:, 1:]
    assert false.sum(axis=1).mean() == pytest.approx(0.5, abs=0.02)
    pts = det.pos[:, 1:][false]
    assert (np.hypot(*pts.T) <= 6.0).all()
    assert (np.degrees(np.abs(np.arctan2(pts[:, 1], pts[:, 0]))) <= 45.0).all()
    narrow = Sensor(1, SensorConfig(fov=90.0, range=8.0), DT)
    assert narrow.capture(0, *one_ball((3.0, 0.5))).mask[0, 0]  # ahead
    assert not narrow.capture(0, *one_ball((-3.0, 0.0))).mask[0, 0]  # behind
    assert not narrow.capture(0, *one_ball((9.0, 0.0))).mask[0, 0]  # out of range


def test_the_same_seed_sees_the_same_things():
    cfg = PRESETS["realistic"]
    a, b, c = (Sensor(4, cfg, DT, seed=s).capture(0, *one_ball((3.0, 1.0), batch=4))
               for s in (5, 5, 6))
    np.testing.assert_array_equal(a.pos, b.pos)
    assert not np.array_equal(a.pos, c.pos)


# -- the tracker --------------------------------------------------------------------------------

def detections(tick, points, robot=(0.0, 0.0)):
    """World points seen from a robot at `robot` facing +x, captured at `tick`."""
    pts = np.array(points, float).reshape(1, -1, 2) - np.array(robot, float)
    return Detections(pts, np.ones(pts.shape[:2], dtype=bool), np.array([robot], float),
                      np.zeros(1), tick)


def test_a_straight_ball_is_tracked_exactly_and_its_latency_predicted_away():
    tracker = BallTrackerCV(1, TrackerConfig.alpha_beta(), DT)
    v = np.array([-4.0, 0.5])
    start = np.array([5.0, -1.0])
    for tick in range(8):  # captured at tick, reported 2 ticks later (0.2 s latency)
        tracker.update(detections(tick, [start + v * tick * DT]))
        pos, vel, mask, ids = tracker.states(tick + 2)
        if tick == 0:
            assert not mask.any()  # one detection: not reported yet
            continue
        np.testing.assert_allclose(vel[0][mask[0]][0], v, atol=1e-9)
        np.testing.assert_allclose(pos[0][mask[0]][0], start + v * (tick + 2) * DT, atol=1e-9)
        assert ids[0][mask[0]][0] == 0


def test_the_filter_beats_finite_differences_on_noisy_detections():
    rng = np.random.default_rng(0)
    errors = {}
    for name, cfg in (("kf", TrackerConfig()), ("cv", TrackerConfig.alpha_beta()),
                      ("raw", TrackerConfig.raw())):
        tracker, err = BallTrackerCV(1, cfg, DT), []
        for tick in range(40):
            truth = np.array([8.0, 0.0]) + np.array([-3.0, 0.0]) * tick * DT
            tracker.update(detections(tick, [truth + rng.normal(0, 0.05, 2)]))
            _, vel, mask, _ = tracker.states(tick)
            if tick >= 10 and mask.any():
                err.append(np.linalg.norm(vel[0][mask[0]][0] - [-3.0, 0.0]))
        errors[name] = float(np.sqrt(np.mean(np.square(err))))
    assert errors["cv"] < 0.5 * errors["raw"], errors
    # The Kalman gains shrink as a track ages; fixed gains keep the young track's noise.
    assert errors["kf"] < 0.5 * errors["cv"], errors


def test_the_kalman_filter_converges_on_a_clean_straight_ball_and_predicts_latency_away():
    """Its second detection gives nearly the finite difference (a wide velocity prior); a few
    more pin position and velocity down (catches a gain or covariance update with a wrong sign
    or term, which diverges or stalls)."""
    tracker = BallTrackerCV(1, TrackerConfig(), DT)
    v, start = np.array([-4.0, 0.5]), np.array([5.0, -1.0])
    for tick in range(10):
        tracker.update(detections(tick, [start + v * tick * DT]))
        pos, vel, mask, _ = tracker.states(tick + 1)
        if tick == 1:
            np.testing.assert_allclose(vel[0][mask[0]][0], v, rtol=0.03)
    np.testing.assert_allclose(vel[0][mask[0]][0], v, atol=0.02)
    np.testing.assert_allclose(pos[0][mask[0]][0], start + v * 10 * DT, atol=0.005)


def test_crossing_balls_keep_their_ids_and_clutter_is_never_reported():
    tracker = BallTrackerCV(1, TrackerConfig(), DT)
    # 0.2 m apart at tick 5, then each is nearer where the *other* was a tick before: only a
    # prediction tells them apart.
    a0, va = np.array([4.0, -2.1]), np.array([-4.0, 4.0])
    b0, vb = np.array([4.0, 2.1]), np.array([-4.0, -4.0])
    seen = {}
    for tick in range(10):
        pts = [a0 + va * tick * DT, b0 + vb * tick * DT]
        if tick == 4:
            pts.append([0.0, 7.0])  # one clutter detection, far from both
        tracker.update(detections(tick, pts))
        pos, _, mask, ids = tracker.states(tick)
        for p, i in zip(pos[0][mask[0]], ids[0][mask[0]], strict=True):
            near_a = np.linalg.norm(p - (a0 + va * tick * DT)) < 1e-6
            seen.setdefault(int(i), set()).add("a" if near_a else "b")
    assert sorted(seen) == [0, 1] and all(len(s) == 1 for s in seen.values()), seen


def test_a_track_coasts_through_misses_then_goes():
    cfg = TrackerConfig(max_misses=3)
    tracker = BallTrackerCV(1, cfg, DT)
    v, p0 = np.array([-4.0, 0.0]), np.array([6.0, 0.0])
    for tick in range(3):
        tracker.update(detections(tick, [p0 + v * tick * DT]))
    empty = Detections(np.zeros((1, 0, 2)), np.zeros((1, 0), dtype=bool), np.zeros((1, 2)),
                       np.zeros(1), 0)
    for tick in range(3, 6):  # three ticks unseen: still reported, where it should be
        empty.tick = tick
        tracker.update(empty)
        pos, _, mask, ids = tracker.states(tick)
        assert mask[0].sum() == 1 and ids[0][mask[0]][0] == 0
        np.testing.assert_allclose(pos[0][mask[0]][0], p0 + v * tick * DT, atol=0.01)
    empty.tick = 6
    tracker.update(empty)
    assert not tracker.states(6)[2].any()


# -- a policy through both ------------------------------------------------------------------------

def test_evaluation_through_sensing_is_reproducible_and_costs_dodges():
    from dodge_lstm.core.evaluation import evaluate
    from dodge_lstm.core.expert import ExpertPolicy

    truth = evaluate(ExpertPolicy(), 300, seed=2, arenas=16)
    same = evaluate(ExpertPolicy(), 300, seed=2, arenas=16, sensing=PRESETS["truth"])
    assert (same.threat_balls, same.threat_hits, same.sensing) == \
        (truth.threat_balls, truth.threat_hits, "truth")
    runs = [evaluate(ExpertPolicy(), 300, seed=2, arenas=16, sensing=PRESETS["realistic"],
                     tracker=TrackerConfig.raw()) for _ in range(2)]
    assert runs[0].sensing == "realistic"
    assert (runs[0].threat_balls, runs[0].threat_hits) == (runs[1].threat_balls,
                                                           runs[1].threat_hits)
    assert runs[0].threat_dodge_rate < truth.threat_dodge_rate - 0.05


# -- recording through sensing: the privileged teacher ---------------------------------------------

def test_a_sensed_recording_labels_from_the_truth():
    """The rows see the tracker's balls; the expert labels (and, driverless, drives) on the true
    state: with the same seed the commands are exactly a truth recording's and the rows are not.
    Mutant caught: labels from the perceived view (the expert would dodge ghosts)."""
    from dodge_lstm.core.dataset import record_expert

    truth = record_expert(4, seed=5, episode_s=6.0, batch=4)
    sensed = record_expert(4, seed=5, episode_s=6.0, batch=4, sensing=PRESETS["realistic"])
    np.testing.assert_array_equal(sensed.commands, truth.commands)
    assert not np.array_equal(sensed.features, truth.features)
    assert (sensed.meta["sensing"], sensed.meta["tracker"]) == ("realistic", "kf")
    assert (truth.meta["sensing"], truth.meta["tracker"]) == ("truth", None)


def test_a_dagger_driver_sees_the_perceived_arena():
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.core.perception import PerceivedArena

    seen: list[type] = []

    class Still:
        name = "still"

        def reset(self, arena):
            seen.append(type(arena))

        def act(self, arena):
            seen.append(type(arena))
            return np.zeros(arena.batch)

    rec = record_expert(2, seed=1, episode_s=1.0, batch=2, driver=Still(),
                        sensing=PRESETS["realistic"])
    assert set(seen) == {PerceivedArena} and rec.meta["driver"] == "still"


def test_eval_scores_a_model_through_the_tracker_it_was_trained_with(tmp_path, capsys):
    """A model's metadata names the tracker its rows came through; `eval --sensing` uses it
    unless `--tracker` says otherwise, as the graph's feature node does. Plausible bug: a model
    trained through one tracker scored through another (train/serve skew in the score)."""
    import json
    import shutil

    from dodge_lstm.cli import main
    from dodge_lstm.resources import model_for
    from dodge_lstm.runtime.model_metadata import metadata_path_for

    src = model_for(1, 4)
    model = tmp_path / src.name
    shutil.copy(src, model)
    meta = json.loads(metadata_path_for(src).read_text())
    metadata_path_for(model).write_text(json.dumps(meta | {"tracker": "raw"}))

    def tracker(*extra: str) -> str | None:
        assert main(["eval", "--balls", "20", "--arenas", "4", "--json", *extra]) == 0
        return json.loads(capsys.readouterr().out.strip().splitlines()[-1])["tracker"]

    sensed = ("--sensing", "realistic")
    assert tracker("--policy", str(model), *sensed) == "raw"
    assert tracker("--policy", str(model), *sensed, "--tracker", "cv") == "cv"
    assert tracker("--policy", str(src), *sensed) == "kf"  # trained on truth: the default
    assert tracker("--policy", str(model)) is None  # truth: no tracker at all
