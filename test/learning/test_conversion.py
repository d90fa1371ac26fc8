"""Tests for conversion: builtins-only TFLite, parity with Keras, metadata beside."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from dodge_lstm.learning.conversion import ConversionError, convert
from dodge_lstm.runtime.model_metadata import metadata_problems
from dodge_lstm.runtime.tflite_policy import TFLitePolicy

N, U, F = 5, 10, 8


def expert_windows(episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray, object]:
    """Raw (unnormalized) real windows and labels from an arena-expert recording."""
    from dodge_lstm.core.dataset import record_expert
    from dodge_lstm.core.windows import make_windows

    rec = record_expert(episodes, seed=seed, episode_s=20.0)
    w = make_windows(rec.features, rec.commands, rec.episode, N)
    return w.x, w.y, rec


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A really (briefly) trained model dir: model.keras + model.json with the data's mean/std."""
    pytest.importorskip("tensorflow")
    from dodge_lstm.learning.train_config import TrainConfig
    from dodge_lstm.learning.training import train

    raw, y, rec = expert_windows(12, seed=0)
    mean, std = rec.normalization()
    z = (raw - mean) / std
    split = len(z) * 3 // 4
    out = tmp_path_factory.mktemp("trained")
    cfg = TrainConfig(timesteps=N, units=U, epochs=3, batch_size=64, seed=0, patience=2,
                      learning_rate=5e-3)
    train(
        z[:split],
        y[:split],
        z[split:],
        y[split:],
        config=cfg,
        speed_limit=0.8,
        out_dir=out,
        progress=False,
        metadata={"feature_mean": mean, "feature_std": std, "dataset_sha256": "ef" * 32},
    )
    return out


@pytest.mark.tensorflow
def test_convert_parity_on_windows(trained_dir: Path, tmp_path: Path) -> None:
    import keras

    raw, _, _ = expert_windows(8, seed=1)  # unseen episodes, > 1000 windows
    assert len(raw) > 1000
    out = tmp_path / "models" / "lstm_t5_u10.tflite"
    report = convert(trained_dir, out, check_windows=raw, atol=1e-5)

    assert report.tflite_path == out and out.is_file()
    assert report.tflite_bytes == out.stat().st_size > 1000
    assert report.n_checked == 1000  # capped
    assert report.check_source == "given"
    assert 0.0 <= report.max_abs_err <= 1e-5
    assert report.route in ("from_keras_model", "export+from_saved_model")
    assert report.ops and not [o for o in report.ops if o.startswith("Flex")]
    assert "WHILE" not in report.ops and "READ_VARIABLE" not in report.ops  # unrolled, frozen

    meta = json.loads((tmp_path / "models" / "lstm_t5_u10.json").read_text())
    train_meta = json.loads((trained_dir / "model.json").read_text())
    assert metadata_problems(meta) == []
    assert meta["input_shape"] == [1, N, F]
    for key in ("feature_mean", "feature_std", "speed_limit", "train_loss", "dataset_sha256"):
        assert meta[key] == train_meta[key]

    # Independent check on windows the conversion did not see: deployed path vs Keras.
    fresh, _, _ = expert_windows(2, seed=2)
    model = keras.models.load_model(trained_dir / "model.keras", compile=False)
    mean = np.asarray(train_meta["feature_mean"], np.float32)
    std = np.asarray(train_meta["feature_std"], np.float32)
    ref = model.predict((fresh - mean) / std, verbose=0)[:, 0]
    policy = TFLitePolicy(out, timesteps=N)
    got = policy.predict_many(fresh)
    np.testing.assert_allclose(got, ref, atol=1e-5)
    assert np.ptp(got) > 0.05  # a trained model, not a constant


@pytest.mark.tensorflow
def test_convert_without_windows_checks_random(trained_dir: Path, tmp_path: Path) -> None:
    report = convert(trained_dir / "model.keras", tmp_path / "m.tflite", check_windows=None)
    assert report.check_source == "random" and report.n_checked == 256
    assert report.max_abs_err <= 1e-5
    assert (tmp_path / "m.json").is_file()


@pytest.mark.tensorflow
def test_convert_rejects_and_removes_on_mismatch(
    trained_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dodge_lstm.learning.conversion as conversion

    class Off(TFLitePolicy):  # simulates a conversion that changed the maths slightly
        def predict_many(self, windows: np.ndarray) -> np.ndarray:
            return super().predict_many(windows) + 1e-3

    monkeypatch.setattr(conversion, "TFLitePolicy", Off)
    raw, _, _ = expert_windows(1, seed=3)
    out = tmp_path / "bad.tflite"
    with pytest.raises(ConversionError, match=r"max abs error 0\.001"):
        convert(trained_dir, out, check_windows=raw)
    assert not out.exists() and not (tmp_path / "bad.json").exists()
    # Converting into the run itself (the README's `convert RUN --out RUN/model.tflite`):
    # a rejection must keep the run's own model.json intact.
    run = tmp_path / "run"
    shutil.copytree(trained_dir, run)
    before = (run / "model.json").read_text()
    with pytest.raises(ConversionError):
        convert(run, run / "model.tflite", check_windows=raw)
    assert (run / "model.json").read_text() == before and not (run / "model.tflite").exists()


@pytest.mark.tensorflow
def test_convert_refuses_metadata_of_another_model(trained_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "run"
    shutil.copytree(trained_dir, d)
    meta = json.loads((d / "model.json").read_text())
    meta.update(timesteps=8, input_shape=[1, 8, F])
    (d / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ConversionError, match="does not describe"):
        convert(d, tmp_path / "x.tflite", check_windows=None)
    assert not (tmp_path / "x.tflite").exists()


def test_convert_missing_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="no Keras model"):
        convert(tmp_path, tmp_path / "x.tflite", check_windows=None)
    (tmp_path / "model.keras").write_bytes(b"not used")
    with pytest.raises(ConversionError, match="no metadata"):
        convert(tmp_path, tmp_path / "x.tflite", check_windows=None)


@pytest.mark.tensorflow
def test_convert_rejects_bad_check_windows(trained_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ConversionError, match="check_windows must be"):
        convert(trained_dir, tmp_path / "y.tflite", check_windows=np.zeros((4, N + 1, F)))
    assert not (tmp_path / "y.tflite").exists()
