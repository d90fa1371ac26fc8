"""The reported scores of a sweep, measured once the trials are done: each pair's kept model on
the reported seed (`report_eval`), the expert and stationary baselines under the same settings
(`evaluate_baselines`), and the kept model copied out with its `scores` (`export_model`)."""

from __future__ import annotations

import shutil
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from dodge_lstm.core.scenarios import Scenario
from dodge_lstm.core.sensing import SensorConfig
from dodge_lstm.core.tracking import TrackerConfig
from dodge_lstm.learning.sweep_trial import ARENAS
from dodge_lstm.learning.train_config import TrainConfig


def report_eval(row: dict[str, Any], eval_balls: int, eval_seed: int, scenario: Scenario,
                sensing: SensorConfig | None = None,
                tracker: TrackerConfig | None = None) -> dict[str, Any]:
    """The pair's kept model, once, on the reported seed (fields of a sweep row)."""
    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.runtime.learned_policy import LearnedPolicy

    out: dict[str, Any] = dict.fromkeys(
        ("threat_dodge_rate", "threat_dodge_ci95", "dodge_rate", "hits", "balls",
         "threat_balls", "threat_hits", "eval_seconds"))
    out["arenas"] = ARENAS
    if row["error"] is not None:
        return out
    try:
        ev = evaluate_scenario(LearnedPolicy(row["tflite"]), scenario, eval_balls,
                               seed=eval_seed, arenas=ARENAS, sensing=sensing, tracker=tracker)
    except Exception as exc:
        return out | {"error": f"report evaluation: {type(exc).__name__}: {exc}"}
    return out | {
        "threat_dodge_rate": ev.threat_dodge_rate, "threat_dodge_ci95": list(ev.threat_dodge_ci95),
        "dodge_rate": ev.dodge_rate, "hits": ev.hits, "balls": ev.balls,
        "threat_balls": ev.threat_balls, "threat_hits": ev.threat_hits,
        "eval_seconds": ev.wall_seconds,
    }


def evaluate_baselines(eval_balls: int, eval_seed: int, scenario: Scenario,
                       sensing: SensorConfig | None = None,
                       tracker: TrackerConfig | None = None) -> dict[str, dict[str, Any]]:
    """Expert (the teacher) and stationary (no dodging) under the reported evaluate settings."""
    from dodge_lstm.core.evaluation import evaluate_scenario
    from dodge_lstm.runtime.learned_policy import make_policy

    out: dict[str, dict[str, Any]] = {}
    for name in ("expert", "stationary"):
        try:
            out[name] = asdict(evaluate_scenario(make_policy(name), scenario, eval_balls,
                                                 seed=eval_seed, arenas=ARENAS,
                                                 sensing=sensing, tracker=tracker))
        except Exception as exc:  # a reference number must not cost the sweep
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


def export_model(row: dict[str, Any], export_dir: Path, settings: dict[str, Any]) -> Path:
    """Copy the pair's kept model to `export_dir/lstm_t{N}_u{U}.tflite`, scores in its JSON."""
    import json

    from dodge_lstm.core.json_io import write_json
    from dodge_lstm.runtime.model_metadata import file_score, metadata_path_for

    dest = export_dir / f"lstm_t{row['timesteps']}_u{row['units']}.tflite"
    src = Path(row["tflite"])
    meta = json.loads(metadata_path_for(src).read_text(encoding="utf-8"))
    scores: dict[str, Any] = {
        "metric": "threat_dodge_rate",
        "arenas": ARENAS,
        "selection": {"seed": settings["selection_seed"], "balls": settings["eval_balls"],
                      "scenario": settings["scenario"], "sensing": settings["sensing"],
                      "threat_dodge_rate": row["selection_threat_dodge_rate"],
                      "threat_dodge_ci95": row["selection_threat_dodge_ci95"]},
        "seed": row["seed"],
        "seeds_tried": row["seeds"],
        "train_config": {f.name: settings[f.name] for f in fields(TrainConfig)},
        "sweep": {"data_sha256": settings["data_sha256"], "timesteps": settings["timesteps"],
                  "units": settings["units"], "package_version": settings["package_version"]},
    }
    # Scores under a detector are filed apart from ground truth's (`reported` is truth's).
    key = (settings["scenario"] if settings.get("sensing", "truth") == "truth"
           else f"{settings['scenario']}, sensing {settings['sensing']}")
    file_score(scores, key, {
        "seed": settings["eval_seed"], "balls": row["balls"],
        "threat_dodge_rate": row["threat_dodge_rate"],
        "threat_dodge_ci95": row["threat_dodge_ci95"], "dodge_rate": row["dodge_rate"]})
    meta["scores"] = scores
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    write_json(metadata_path_for(dest), meta)
    return dest
