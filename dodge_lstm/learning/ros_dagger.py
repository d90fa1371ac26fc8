"""DAgger through the ROS graph: the learner drives the real node graph, the expert labels in
shadow, the recorder writes bags, the bags become the dataset.

Round 0 records `initial_minutes` of the expert driving the graph (`dodge-lstm sim --policy
expert --record`) and trains on it (behaviour cloning). Every later round runs the newest model in
the graph with the expert riding along in shadow on `expert/cmd_vel` (`--policy lstm --label
expert`), imports that bag with labels from the shadow topic, aggregates every bag so far and
retrains. The graph runs in lockstep, so an hour of simulated demonstrations costs about a
minute and a half of wall time; each round is a `dodge-lstm sim` subprocess, exactly what a user
would run, so this module never imports rclpy.

`compare_arena` runs arena DAgger from the same round-0 recording with the same simulated
minutes per round, for the side-by-side table in the README.

With `sensing` (a preset of `core.sensing.PRESETS` and knobs) every round runs the graph with
`ball_detector` and records `balls/detections`: round 0 the expert drives on the truth while
the detector reports (privileged demonstrations), later rounds the model drives on its tracked
detections while the shadow expert keeps labelling from the true `balls/odom`. The bags are
imported through the detections with `tracker` (`dataset --from-detections`), and every model
is scored through the same sensing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dodge_lstm.bags.bag_dataset import recording_from_bags
from dodge_lstm.core.dataset import Recording, record_expert
from dodge_lstm.core.evaluation import REPORTED_SEED, SELECTION_SEED, EvalResult, evaluate
from dodge_lstm.core.expert import ExpertPolicy
from dodge_lstm.core.json_io import write_json
from dodge_lstm.core.sensing import SensorConfig, sensing_label, sensor_config
from dodge_lstm.core.tracking import DEFAULT_TRACKER, TRACKERS
from dodge_lstm.learning.dagger import train_round
from dodge_lstm.learning.train_config import TrainConfig
from dodge_lstm.runtime.learned_policy import LearnedPolicy
from dodge_lstm.viz.dagger_plot import plot_dagger_curves

LABEL_TOPIC = "expert/cmd_vel"
"""Where the shadow expert answers."""


@dataclass
class LoopRound:
    """One round of either loop."""

    loop: str
    """`ros` or `arena`."""
    round: int
    minutes: float
    """Simulated minutes of demonstrations (driven or shadowed) in the dataset so far."""
    dataset_rows: int
    eval_loss: float | None
    train_seconds: float
    record_seconds: float
    """Wall time spent recording this round's minutes."""
    selection_threat_dodge_rate: float
    threat_dodge_rate: float
    """On the reported seed."""
    threat_dodge_ci95: list[float]
    model: str


@dataclass(frozen=True)
class GraphSensing:
    """What the graph's policy sees: a preset, its overridden knobs, and the tracker."""

    preset: str = "truth"
    knobs: tuple[tuple[str, float], ...] = ()
    """`SensorConfig` fields and values, as `dodge-lstm sim` flags take them."""
    tracker: str = DEFAULT_TRACKER

    @property
    def config(self) -> SensorConfig:
        return sensor_config(self.preset, **dict(self.knobs))

    def seen(self) -> dict[str, Any]:
        """`sensing` and `tracker` for `evaluate` and `record_expert`: the arena seen the same
        way."""
        return {"sensing": self.config, "tracker": TRACKERS[self.tracker]}

    def sim_args(self) -> list[str]:
        """The `dodge-lstm sim` flags for it (none for truth)."""
        if self.config.is_truth:
            return []
        args = ["--sensing", self.preset, "--tracker", self.tracker]
        for name, value in self.knobs:  # noise_std -> --noise-std, as `sim` spells them
            args += ["--" + name.replace("_", "-"), f"{value:g}"]
        return args


def record_graph(bag: Path, *, minutes: float, seed: int, model: Path | None,
                 config: TrainConfig, lockstep: bool = True,
                 sensing: GraphSensing | None = None) -> tuple[Path, dict[str, Any]]:
    """Run `dodge-lstm sim` for `minutes` simulated minutes and record it; returns the bag path
    and the run summary. Without `model` the expert drives; with one, the model drives and the
    expert labels in shadow. Raises RuntimeError with the graph's output on failure."""
    cmd = [sys.executable, "-m", "dodge_lstm.cli", "sim", "--duration", f"{minutes * 60.0:g}",
           "--record", str(bag), "--seed", str(seed), "--json",
           *(sensing or GraphSensing()).sim_args()]
    if lockstep:
        cmd.append("--lockstep")
    if model is None:
        cmd += ["--policy", "expert"]
    else:
        cmd += ["--policy", "lstm", "--model", str(model), "--timesteps",
                str(config.timesteps), "--units", str(config.units), "--label", "expert"]
    wall_limit = 600.0 + minutes * 60.0 * (0.5 if lockstep else 3.0)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=wall_limit,
                              env=os.environ.copy(), check=False)
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"`{' '.join(cmd)}` ran longer than {wall_limit:.0f} s") from exc
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}:\n"
                           f"{done.stderr[-2000:]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return Path(summary["bag"]["path"]), summary


def _train_round(parts: list[Recording], rdir: Path, config: TrainConfig,
                 progress: bool) -> tuple[Path, Any, int]:
    """Aggregate and mirror every round so far, then `dagger.train_round`; returns the TFLite
    path, the TrainResult and the rows trained on."""
    agg = Recording.concat(parts).mirrored()
    model, res = train_round(agg, rdir, config, progress)
    return model, res, int(agg.features.shape[0])


def _score(model: Path, config: TrainConfig, balls: int,
           sensing: GraphSensing) -> tuple[EvalResult, EvalResult]:
    policy, seen = LearnedPolicy(model, timesteps=config.timesteps), sensing.seen()
    return (evaluate(policy, balls, seed=SELECTION_SEED, arenas=64, **seen),
            evaluate(policy, balls, seed=REPORTED_SEED, arenas=64, **seen))


def _import_round(bag: Path, labelled: bool, sensing: GraphSensing) -> Recording:
    """A round's bag as rows: ground-truth rows, or the detections through the tracker; labels
    from the driver's `cmd_vel` (round 0, the expert drove) or the shadow expert's."""
    senses = not sensing.config.is_truth
    labels = {"label_topic": LABEL_TOPIC} if labelled else {}
    rec = recording_from_bags([bag], detections=sensing.tracker if senses else None, **labels)
    if senses:  # the bag knows only that rows came from detections; this run knows which
        rec.meta["sensing"] = sensing_label(sensing.config)
    return rec


def run_ros_dagger(
    *,
    out_dir: Path,
    config: TrainConfig,
    rounds: int = 5,
    minutes: float = 10.0,
    initial_minutes: float = 10.0,
    seed: int = 0,
    balls: int = 2000,
    compare_arena: bool = False,
    episode_s: float = 30.0,
    progress: bool = True,
    sensing: GraphSensing | None = None,
) -> list[LoopRound]:
    """The ROS loop (and optionally the arena loop from the same start); writes
    `ros_dagger.json` with every round and returns them. Round r's graph seed is `seed + r`."""
    config.validate()
    sensing = sensing or GraphSensing()
    seen = sensing.seen()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def log(text: str) -> None:
        if progress:
            print(text, file=sys.stderr, flush=True)

    results: list[LoopRound] = []
    parts: list[Recording] = []
    model: Path | None = None
    total = 0.0
    for r in range(rounds + 1):
        rdir = out_dir / "ros" / f"round_{r}"
        t0 = time.perf_counter()
        span = initial_minutes if r == 0 else minutes
        bag, _ = record_graph(rdir / "bag", minutes=span, seed=seed + r, model=model,
                              config=config, sensing=sensing)
        record_s = time.perf_counter() - t0
        parts.append(_import_round(bag, model is not None, sensing))
        total += span
        model, res, rows = _train_round(parts, rdir, config, progress)
        sel, rep = _score(model, config, balls, sensing)
        results.append(LoopRound("ros", r, total, rows, res.eval_loss, res.seconds, record_s,
                                 sel.threat_dodge_rate, rep.threat_dodge_rate,
                                 rep.threat_dodge_ci95, str(model)))
        log(f"ros round {r}: {total:g} min, {rows} rows, threat dodge "
            f"{rep.threat_dodge_rate:.1%} (selection {sel.threat_dodge_rate:.1%})")

    if compare_arena:
        arena_parts = [parts[0]]
        model = Path(results[0].model)  # round 0 is shared: the same recording and model
        results.append(LoopRound("arena", 0, initial_minutes, results[0].dataset_rows,
                                 results[0].eval_loss, results[0].train_seconds,
                                 results[0].record_seconds,
                                 results[0].selection_threat_dodge_rate,
                                 results[0].threat_dodge_rate, results[0].threat_dodge_ci95,
                                 results[0].model))
        total = initial_minutes
        episodes = max(1, round(minutes * 60.0 / episode_s))
        for r in range(1, rounds + 1):
            rdir = out_dir / "arena" / f"round_{r}"
            t0 = time.perf_counter()
            driver = LearnedPolicy(model, timesteps=config.timesteps)
            arena_parts.append(record_expert(episodes, seed=seed + 1000 * r,
                                             episode_s=episode_s, driver=driver, **seen))
            record_s = time.perf_counter() - t0
            total += episodes * episode_s / 60.0
            model, res, rows = _train_round(arena_parts, rdir, config, progress)
            sel, rep = _score(model, config, balls, sensing)
            results.append(LoopRound("arena", r, total, rows, res.eval_loss, res.seconds,
                                     record_s, sel.threat_dodge_rate, rep.threat_dodge_rate,
                                     rep.threat_dodge_ci95, str(model)))
            log(f"arena round {r}: {total:g} min, {rows} rows, threat dodge "
                f"{rep.threat_dodge_rate:.1%} (selection {sel.threat_dodge_rate:.1%})")

    expert = evaluate(ExpertPolicy(), balls, seed=REPORTED_SEED, arenas=64, **seen)
    rows = [asdict(x) for x in results]
    plot_dagger_curves(out_dir / "dagger_curves.png", rows, expert.threat_dodge_rate)
    write_json(out_dir / "ros_dagger.json", {
        "rounds": rows, "minutes_per_round": minutes,
        "initial_minutes": initial_minutes, "seed": seed, "balls": balls,
        "selection_seed": SELECTION_SEED, "report_seed": REPORTED_SEED,
        "expert_threat_dodge_rate": expert.threat_dodge_rate,
        "sensing": sensing_label(sensing.config),
        "tracker": None if sensing.config.is_truth else sensing.tracker,
        "train_config": asdict(config)})
    return results

