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
from typing import TYPE_CHECKING, Any

from dodge_lstm.core.dataset import Recording, record_scenario
from dodge_lstm.core.evaluation import SELECTION_SEED, evaluate_scenario
from dodge_lstm.core.json_io import write_json
from dodge_lstm.core.scenarios import Scenario, scenario
from dodge_lstm.learning.train_config import TrainConfig
from dodge_lstm.physics.backends import arena_factory
from dodge_lstm.runtime.learned_policy import LearnedPolicy
from dodge_lstm.runtime.model_metadata import metadata_path_for, read_metadata

if TYPE_CHECKING:
    from dodge_lstm.core.sensing import SensorConfig
    from dodge_lstm.core.tracking import TrackerConfig


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


def train_round(data: Recording, rdir: Path, config: TrainConfig,
                progress: bool) -> tuple[Path, Any]:
    """One round's model: save `data` as `rdir/data.npz`, train on it, convert to
    `rdir/model.tflite` (checked on its own windows); returns the TFLite path and the
    TrainResult."""
    from dodge_lstm.learning.conversion import check_windows_for, convert
    from dodge_lstm.learning.training import train_dataset

    path = data.save(rdir / "data.npz")
    res = train_dataset(path, config, out_dir=rdir, progress=progress)
    model = rdir / "model.tflite"
    convert(rdir, model, check_windows=check_windows_for(rdir, path))
    return model, res


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
    scenarios: Scenario | None = None,
    start_model: Path | None = None,
    sensing: SensorConfig | None = None,
    tracker: TrackerConfig | None = None,
    backend: str = "arena",
    randomize: float = 0.0,
    teacher: str = "truth",
) -> list[RoundResult]:
    """Round 0 is behaviour cloning on `data`; rounds 1..`rounds` add DAgger episodes.

    With `start_model` (a model already trained on `data`, e.g. an earlier chain's last round)
    round 0 is that model, scored but not retrained: a chain continues where another stopped.

    Every round trains with `config`; `config.seed` also seeds the DAgger episodes (round r
    uses `seed + 1000 r`). DAgger episodes and the selection evaluation throw balls as
    `scenarios` does (default: the default scenario), with the data's ball slots.
    `dagger.json` records `config` in full as `train_config`. With `sensing` the learner
    drives, and is scored, on what that detector and `tracker` report, and the expert labels
    from the true state (a privileged teacher; `teacher`, `core.teachers`, picks another); round
    0's data should be recorded the same way (`dataset --sensing --teacher`). `backend` is the
    simulator of the DAgger episodes and the selection (`physics.backends`): `mujoco` runs
    DAgger in MuJoCo on arena data, with `randomize` its physics randomised per world.
    """
    scenarios = scenarios or scenario("default")
    make_arena = arena_factory(backend, randomize)
    config.validate()
    timesteps, seed = config.timesteps, config.seed
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = [Recording.load(data)]
    num_slots = int(parts[0].meta.get("num_slots", 2))
    results: list[RoundResult] = []
    for r in range(rounds + 1):
        rdir = out_dir / f"round_{r}"
        if r > 0:
            driver = LearnedPolicy(results[-1].model, timesteps=timesteps)
            new = record_scenario(scenarios, episodes, seed=seed + 1000 * r, driver=driver,
                                  num_slots=num_slots, expert_share=expert_share,
                                  progress=progress, sensing=sensing, tracker=tracker,
                                  make_arena=make_arena, teacher=teacher)
            parts.append(new.mirrored() if parts[0].meta.get("mirrored") else new)
        agg = Recording.concat(parts)
        if r == 0 and start_model is not None:
            model, meta = Path(start_model), read_metadata(metadata_path_for(start_model))
            if meta["timesteps"] != timesteps or meta["num_features"] != 4 * num_slots:
                raise ValueError(f"start model {model} takes [{meta['timesteps']}, "
                                 f"{meta['num_features']}] windows, not [{timesteps}, "
                                 f"{4 * num_slots}] as --timesteps and the data say")
            train_loss, eval_loss, seconds = meta["train_loss"], meta["eval_loss"], 0.0
        else:
            model, res = train_round(agg, rdir, config, progress)
            train_loss, eval_loss, seconds = res.train_loss, res.eval_loss, res.seconds
        score = evaluate_scenario(LearnedPolicy(model, timesteps=timesteps), scenarios,
                                  selection_balls, seed=SELECTION_SEED, arenas=64,
                                  sensing=sensing, tracker=tracker, make_arena=make_arena)
        results.append(RoundResult(r, int(agg.features.shape[0]), train_loss, eval_loss,
                                   seconds, score.threat_dodge_rate, str(model)))
        if progress:
            loss = "n/a" if eval_loss is None else f"{eval_loss:.5f}"
            print(f"round {r}: {agg.features.shape[0]} rows, eval loss {loss}, "
                  f"selection threat dodge rate {score.threat_dodge_rate:.2%}")
    best = max(results, key=lambda x: x.selection_threat_dodge_rate)
    summary = {"best_round": best.round, "rounds": [asdict(x) for x in results],
               "selection_seed": SELECTION_SEED, "episodes_per_round": episodes, "seed": seed,
               "scenario": scenarios.name, "start_model": str(start_model or ""),
               "sensing": score.sensing, "tracker": score.tracker, "teacher": teacher,
               "backend": score.backend,
               "train_config": asdict(config)}
    write_json(out_dir / "dagger.json", summary)
    if export is not None:
        _export(Path(best.model), Path(export), {
            "round": best.round, "rounds": rounds, "episodes": episodes, "seed": seed,
            "scenario": scenarios.name, "backend": score.backend})
    return results


def _export(model: Path, export: Path, dagger: dict) -> None:
    """Copy a round's model and its metadata (plus how DAgger made it) to `export`."""
    export.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, export)
    meta = json.loads(metadata_path_for(model).read_text(encoding="utf-8"))
    meta["dagger"] = meta.get("dagger", {}) | dagger
    write_json(metadata_path_for(export), meta)


def _dagger_task(seed: int, cpus: int, kwargs: dict) -> list[RoundResult]:
    """One seed's whole DAgger chain, in a fresh Ray worker process held to `cpus` threads."""
    from dodge_lstm.learning.ray_cluster import limit_threads

    limit_threads(cpus)
    config = TrainConfig(**kwargs.pop("config")).with_(seed=seed)
    return run_dagger(config=config, progress=False, **kwargs)


def run_dagger_seeds(
    *,
    seeds: list[int],
    data: Path,
    out_dir: Path,
    config: TrainConfig,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_task: int = 1,
    export: Path | None = None,
    **kwargs: object,
) -> dict[int, list[RoundResult]]:
    """`run_dagger` once per seed, each seed a Ray task (this machine, or a cluster at
    `address`), into `out_dir/seed_<s>`; the best round over all seeds (by the selection
    evaluation) is exported. `dagger_seeds.json` lists every seed's rounds.

    On a cluster, `data` and `out_dir` must be the same path on every node.
    """
    import ray

    from dodge_lstm.learning.ray_cluster import ray_session

    config.validate()
    with ray_session(address, num_cpus):
        task = ray.remote(num_cpus=cpus_per_task, max_calls=1)(_dagger_task)
        refs = {s: task.remote(s, cpus_per_task, {
            "data": Path(data).resolve(), "out_dir": (Path(out_dir) / f"seed_{s}").resolve(),
            "config": asdict(config), **kwargs}) for s in seeds}
        results = {s: ray.get(ref) for s, ref in refs.items()}
    best_seed, best = max(((s, r) for s, rounds in results.items() for r in rounds),
                          key=lambda sr: sr[1].selection_threat_dodge_rate)
    write_json(Path(out_dir) / "dagger_seeds.json", {
        "seeds": {str(s): [asdict(r) for r in rounds] for s, rounds in results.items()},
        "best": {"seed": best_seed, **asdict(best)}, "address": address,
        "train_config": asdict(config)})
    if export is not None:
        _export(Path(best.model), Path(export), {"round": best.round, "seed": best_seed,
                                                 "seeds": seeds})
    return results
