"""The shipped default model: loads without TensorFlow, matches its metadata, and dodges."""

import json
import subprocess
import sys

from dodge_lstm.core.config import ArenaConfig
from dodge_lstm.core.evaluation import evaluate
from dodge_lstm.core.features import feature_names
from dodge_lstm.resources import model_for
from dodge_lstm.runtime.learned_policy import LearnedPolicy
from dodge_lstm.runtime.tflite_policy import TFLitePolicy

MODEL = model_for(5, 15)
# Well below the measured 2000-ball score (README), well above behaviour cloning without DAgger
# on short runs, and far above the stationary robot (0%).
FLOOR = 0.9


def test_shipped_model_matches_its_metadata():
    policy = TFLitePolicy(MODEL, timesteps=5)
    meta = json.loads(MODEL.with_suffix(".json").read_text())
    assert (policy.timesteps, policy.units, policy.num_features) == (5, 15, 8)
    assert meta["feature_names"] == feature_names(2)
    assert meta["speed_limit"] == ArenaConfig().speed_limit == policy.speed_limit
    assert meta["input_shape"] == [1, 5, 8] and len(meta["feature_mean"]) == 8
    assert all(s > 0 for s in meta["feature_std"])


def test_shipped_model_dodges_in_a_short_seeded_evaluation():
    res = evaluate(LearnedPolicy(MODEL, timesteps=5), 600, seed=11, arenas=64)
    assert res.threat_balls > 150
    assert res.threat_dodge_rate >= FLOOR, res.table()


def test_headline_number_is_pinned():
    """The README's headline, exactly: seed 7, 2000 balls, 64 arenas. A change to features,
    windowing, label pairing, the arena or the runtime that moves a single ball shows here."""
    res = evaluate(LearnedPolicy(MODEL, timesteps=5), 2000, seed=7, arenas=64)
    assert (res.balls, res.hits, res.threat_balls, res.threat_hits) == (2000, 26, 776, 16), \
        res.to_json()


def test_eval_cli_with_tflite_without_tensorflow():
    code = (
        "import sys, json\n"
        "from dodge_lstm.cli import main\n"
        f"rc = main(['eval', '--policy', {str(MODEL)!r}, '--balls', '200', '--seed', '3',"
        " '--json'])\n"
        "assert rc == 0\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported for inference'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["policy"] == MODEL.name and res["balls"] == 200
    assert 0.0 <= res["threat_dodge_rate"] <= 1.0 and res["threat_balls"] > 30
