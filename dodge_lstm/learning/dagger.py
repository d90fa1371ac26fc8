"""DAgger: let the learned policy drive, let the expert label, retrain on everything.

Pure behaviour cloning trains only on states the expert visits; a cloned policy that errs a
little drifts into states it never saw and errs more (covariate shift). Each DAgger round runs
the current model in the arena, labels every visited state with the expert, appends those
episodes to the dataset and retrains. The round kept is the one with the best closed-loop threat
dodge rate on a *selection* seed, so the reported evaluation seed stays untouched.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from dodge_lstm.core.dataset import Recording, record_expert
from dodge_lstm.core.evaluation import evaluate
from dodge_lstm.core.json_io import write_json
from dodge_lstm.learning.train_config import TrainConfig
from dodge_lstm.runtime.learned_policy import LearnedPolicy
from dodge_lstm.runtime.model_metadata import metadata_path_for

SELECTION_SEED = 1001
"""Seed of the closed-loop evaluation that picks the round (never the reported seed 7)."""


@dataclass
class RoundResult:
    """One DAgger round."""

    round: int
    dataset_rows: int
    train_loss: float
    eval_loss: float | None  # None when config.eval_fraction is 0
    train_seconds: float
    selection_threat_dodge_rate: float
    model: str


def run_dagger(
    *,
    data: Path,
    out_dir: Path,
    config: TrainConfig,
    rounds: int = 3,
    episodes: int = 512,
    selection_balls: int = 2000,
    expert_share: float = 0.0,
    export: Path | None = None,
    progress: bool = True,
) -> list[RoundResult]:
    """Round 0 is behaviour cloning on `data`; rounds 1..`rounds` add DAgger episodes.

    Every round trains with `config`; `config.seed` also seeds the DAgger episodes (round r
    uses `seed + 1000 r`). `dagger.json` records `config` in full as `train_config`.
    """
    from dodge_lstm.learning.conversion import check_windows_for, convert
    from dodge_lstm.learning.training import train_dataset

    config.validate()
    timesteps, seed = config.timesteps, config.seed
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [Recording.load(data)]
    results: list[RoundResult] = []
    for r in range(rounds + 1):
        rdir = out_dir / f"round_{r}"
        if r > 0:
            driver = LearnedPolicy(results[-1].model, timesteps=timesteps)
            new = record_expert(episodes, seed=seed + 1000 * r, driver=driver,
                                expert_share=expert_share, progress=progress)
            parts.append(new.mirrored() if parts[0].meta.get("mirrored") else new)
        agg = Recording.concat(parts)
        agg_path = agg.save(rdir / "data.npz")
        res = train_dataset(agg_path, config, out_dir=rdir, progress=progress)
        model = rdir / "model.tflite"
        convert(rdir, model, check_windows=check_windows_for(rdir, agg_path))
        score = evaluate(LearnedPolicy(model, timesteps=timesteps), selection_balls,
                         seed=SELECTION_SEED, arenas=64)
        results.append(RoundResult(r, int(agg.features.shape[0]), res.train_loss,
                                   res.eval_loss, res.seconds,
                                   score.threat_dodge_rate, str(model)))
        if progress:
            loss = "n/a" if res.eval_loss is None else f"{res.eval_loss:.5f}"
            print(f"round {r}: {agg.features.shape[0]} rows, eval loss {loss}, "
                  f"selection threat dodge rate {score.threat_dodge_rate:.2%}")
    best = max(results, key=lambda x: x.selection_threat_dodge_rate)
    summary = {"best_round": best.round, "rounds": [asdict(x) for x in results],
               "selection_seed": SELECTION_SEED, "episodes_per_round": episodes, "seed": seed,
               "train_config": asdict(config)}
    write_json(out_dir / "dagger.json", summary)
    if export is not None:
        export = Path(export)
        export.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best.model, export)
        meta = json.loads(metadata_path_for(best.model).read_text(encoding="utf-8"))
        meta["dagger"] = {"round": best.round, "rounds": rounds, "episodes": episodes,
                          "seed": seed}
        write_json(metadata_path_for(export), meta)
    return results
